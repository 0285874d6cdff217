package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aptq/aptq/client"
)

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
	return out
}
