package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/verify"
)

// verifyUpdate is a round's release update as the signer checks it.
func verifyUpdate(u *client.RoundUpdate) (*verify.Update, error) {
	v := &verify.Update{Fields: u.Fields, AddComponents: u.AddComponents, RemoveComponents: u.RemoveComponents,
		AddArchitectures: u.AddArchitectures, RemoveArchitectures: u.RemoveArchitectures, KeepVersions: u.KeepVersions,
		Contents: u.Contents}
	if u.KeepVersions != nil && *u.KeepVersions < 0 {
		return nil, fmt.Errorf("keep_versions %d is not a number of versions", *u.KeepVersions)
	}
	switch u.ValidFor {
	case "":
	case "none":
		v.ValidFor = new(time.Duration)
	default:
		d, err := time.ParseDuration(u.ValidFor)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("valid_for %q is not none or a positive duration", u.ValidFor)
		}
		v.ValidFor = &d
	}
	return v, nil
}

// describeUpdate says what a release update changes, one line each, for
// the signer's log.
func describeUpdate(u *client.RoundUpdate) []string {
	var out []string
	names := make([]string, 0, len(u.Fields))
	for name := range u.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := u.Fields[name]; v == "" {
			out = append(out, "drop field "+name)
		} else {
			out = append(out, fmt.Sprintf("set %s: %s", name, v))
		}
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"add component", u.AddComponents}, {"remove component", u.RemoveComponents},
		{"add architecture", u.AddArchitectures}, {"remove architecture", u.RemoveArchitectures}} {
		if len(l.names) > 0 {
			out = append(out, l.what+" "+strings.Join(l.names, " "))
		}
	}
	if len(u.Compressions) > 0 {
		out = append(out, "compressions "+strings.Join(u.Compressions, " "))
	}
	if u.ValidFor != "" {
		out = append(out, "valid for "+u.ValidFor)
	}
	if u.Contents != nil {
		out = append(out, map[bool]string{true: "Contents indices on", false: "Contents indices off"}[*u.Contents])
	}
	if u.KeepVersions != nil {
		if *u.KeepVersions == 0 {
			out = append(out, "keep all versions (no retention)")
		} else {
			out = append(out, fmt.Sprintf("keep the newest %d versions (retention)", *u.KeepVersions))
		}
	}
	return out
}
