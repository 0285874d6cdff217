package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	archs := []string{"amd64", "arm64"}
	tests := []struct {
		spec    string
		want    Spec
		wantErr string
	}{
		{spec: "hello", want: Spec{Name: "hello"}},
		{spec: "hello=1.0", want: Spec{Name: "hello", Version: "1.0"}},
		{spec: "hello=1.0:amd64", want: Spec{Name: "hello", Version: "1.0", Arch: "amd64"}},
		{spec: "hello=1:2.0-1", want: Spec{Name: "hello", Version: "1:2.0-1"}},
		{spec: "hello=1:2.0-1:arm64", want: Spec{Name: "hello", Version: "1:2.0-1", Arch: "arm64"}},
		{spec: "hello=2.0:all", want: Spec{Name: "hello", Version: "2.0", Arch: "all"}},
		// Not an architecture of the release: part of the version, which
		// then is not a valid one.
		{spec: "hello=1.0:i386", wantErr: "version"},
		// After an epoch, a colon may be part of the upstream version.
		{spec: "hello=1:2.0:i386", want: Spec{Name: "hello", Version: "1:2.0:i386"}},
		{spec: "", wantErr: "name"},
		{spec: "=1.0", wantErr: "name"},
		{spec: "hello=", wantErr: "version"},
		{spec: "hello=:amd64", wantErr: "version"},
		{spec: "../etc/passwd", wantErr: "name"},
		{spec: "pool/main/h/hello", wantErr: "name"},
		{spec: "hello=1.0/../x", wantErr: "version"},
		{spec: "Hello", wantErr: "name"},
		{spec: "hello\n=1.0", wantErr: "name"},
		{spec: "hello=1.0\x00", wantErr: "version"},
		{spec: "hello*", wantErr: "name"},
		{spec: strings.Repeat("a", MaxSpecLen+1), wantErr: "at most"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec, archs)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr, "%q", tt.spec)
			continue
		}
		require.NoError(t, err, tt.spec)
		tt.want.Text = tt.spec
		require.Equal(t, tt.want, got, tt.spec)
	}
}

func TestMatchSpecs(t *testing.T) {
	t.Parallel()
	m := func(name, version, arch string) Member {
		return Member{Component: "main", Package: Package{Name: name, Version: version, Architecture: arch}}
	}
	members := []Member{m("hello", "1.0", "amd64"), m("hello", "1.0", "arm64"), m("hello", "2.0", "amd64"),
		m("hello-doc", "1.0", "all"), m("world", "1:1.0", "amd64")}
	spec := func(s string) Spec {
		sp, err := ParseSpec(s, []string{"amd64", "arm64"})
		require.NoError(t, err)
		return sp
	}
	tests := []struct {
		specs     []string
		want      []Member
		unmatched []string
	}{
		{specs: []string{"hello"}, want: members[:3]},
		{specs: []string{"hello=1.0"}, want: members[:2]},
		{specs: []string{"hello=1.0:arm64"}, want: members[1:2]},
		{specs: []string{"world=1:1.0"}, want: members[4:]},
		{specs: []string{"world=1.0"}, unmatched: []string{"world=1.0"}},
		{specs: []string{"hello", "hello=2.0"}, want: members[:3]}, // each member once
		{specs: []string{"hello-doc", "nope", "hello=3.0"}, want: members[3:4], unmatched: []string{"nope", "hello=3.0"}},
		{specs: []string{"hell"}, unmatched: []string{"hell"}}, // no prefix matching
	}
	for _, tt := range tests {
		var specs []Spec
		for _, s := range tt.specs {
			specs = append(specs, spec(s))
		}
		got, unmatched := MatchSpecs(members, specs)
		require.Equal(t, tt.want, got, tt.specs)
		var texts []string
		for _, u := range unmatched {
			texts = append(texts, u.Text)
		}
		require.Equal(t, tt.unmatched, texts, tt.specs)
	}
}

func TestRetentionDrops(t *testing.T) {
	t.Parallel()
	p := func(comp, name, version, arch string) ChangeRemove {
		return ChangeRemove{Component: comp, Name: name, Version: version, Architecture: arch}
	}
	tests := []struct {
		name string
		pkgs []ChangeRemove
		keep int
		want []ChangeRemove
	}{
		{name: "keep 0 keeps all", pkgs: []ChangeRemove{p("main", "a", "1", "amd64"), p("main", "a", "2", "amd64")}, keep: 0},
		{name: "1.10 is newer than 1.9 (string order says otherwise)",
			pkgs: []ChangeRemove{p("main", "a", "1.10", "amd64"), p("main", "a", "1.9", "amd64"), p("main", "a", "1.2", "amd64")},
			keep: 2, want: []ChangeRemove{p("main", "a", "1.2", "amd64")}},
		{name: "an epoch beats any upstream version",
			pkgs: []ChangeRemove{p("main", "a", "1:0.1", "amd64"), p("main", "a", "9.9", "amd64"), p("main", "a", "10.0", "amd64")},
			keep: 2, want: []ChangeRemove{p("main", "a", "9.9", "amd64")}},
		{name: "tilde sorts before the release",
			pkgs: []ChangeRemove{p("main", "a", "2.0~rc1", "amd64"), p("main", "a", "2.0", "amd64"), p("main", "a", "1.0", "amd64")},
			keep: 1, want: []ChangeRemove{p("main", "a", "2.0~rc1", "amd64"), p("main", "a", "1.0", "amd64")}},
		{name: "groups are per architecture and component",
			pkgs: []ChangeRemove{p("main", "a", "1", "amd64"), p("main", "a", "2", "arm64"), p("contrib", "a", "0.5", "amd64"),
				p("main", "a", "3", "all"), p("main", "a", "0.1", "amd64")},
			keep: 1, want: []ChangeRemove{p("main", "a", "0.1", "amd64")}},
		{name: "duplicates count once",
			pkgs: []ChangeRemove{p("main", "a", "1", "amd64"), p("main", "a", "1", "amd64"), p("main", "a", "2", "amd64")},
			keep: 2},
		{name: "revisions", pkgs: []ChangeRemove{p("main", "a", "1.0-10", "amd64"), p("main", "a", "1.0-9", "amd64"),
			p("main", "a", "1.0-9+b1", "amd64")}, keep: 2, want: []ChangeRemove{p("main", "a", "1.0-9", "amd64")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, RetentionDrops(tt.pkgs, tt.keep))
			// The input's order does not matter.
			rev := make([]ChangeRemove, len(tt.pkgs))
			for i, x := range tt.pkgs {
				rev[len(rev)-1-i] = x
			}
			require.Equal(t, tt.want, RetentionDrops(rev, tt.keep))
		})
	}
}
