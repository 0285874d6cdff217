package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// FuzzReleaseUpdate: whatever update body is accepted, the Release a round
// then writes parses back to exactly the release as updated (the retention
// included, which the signer reads from it): no value adds, drops or
// breaks a field of the file apt reads.
func FuzzReleaseUpdate(f *testing.F) {
	for _, s := range []string{
		`{"label":"New","origin":"Acme","add_architectures":["arm64"],"remove_components":["contrib"]}`,
		`{"not_automatic":true,"but_automatic_upgrades":true,"signed_by":"` + strings.Repeat("ab", 20) + `"}`,
		`{"label":"x\nSHA256:\n 00 1 main/evil"}`, `{"description":"a\u2028b"}`, `{"valid_for":"none","compressions":["none","xz"]}`,
		`{"add_components":["../x"]}`, `{"keep_versions":3}`, `{"keep_versions":-1}`, `{"signed_by":"` + strings.Repeat("CD", 32) + `!, ` + strings.Repeat("01", 20) + `"}`,
	} {
		f.Add([]byte(s))
	}
	e := echo.New()
	before := store.Release{Name: "stable", Origin: "o", Label: "l", Suite: "stable", Codename: "stable",
		Components: []string{"main", "contrib"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req ReleaseUpdateRequest
		c := e.NewContext(httptest.NewRequest(http.MethodPatch, "/", bytes.NewReader(body)), httptest.NewRecorder())
		if bind(c, &req) != nil {
			return
		}
		st, err := updateSettings(&req, before, "repo")
		if err != nil {
			if status, _ := toBody(err); status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d for %v", status, err)
			}
			return
		}
		// Settings go through the database as JSON.
		stored, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var back store.ReleaseSettings
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatal(err)
		}
		r := back.Apply(before)
		date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		meta := apt.ReleaseMeta{Origin: r.Origin, Label: r.Label, Suite: r.Suite, Codename: r.Codename,
			Version: r.Version, Description: r.Description, Date: date, Generation: 2, Components: r.Components,
			Architectures: r.Architectures, NotAutomatic: r.NotAutomatic, ButAutomaticUpgrades: r.ButAutomaticUpgrades,
			SignedBy: r.SignedBy, KeepVersions: r.KeepVersions}
		parsed, err := apt.ParseRelease(apt.BuildRelease(meta, nil))
		if err != nil {
			t.Fatalf("the updated release's Release does not parse: %v", err)
		}
		got := parsed.Meta
		if got.Origin != r.Origin || got.Label != r.Label || got.Suite != r.Suite || got.Codename != r.Codename ||
			got.Description != r.Description || !slices.Equal(got.Components, r.Components) ||
			!slices.Equal(got.Architectures, r.Architectures) || parsed.Fields.Get("Signed-By") != r.SignedBy ||
			got.KeepVersions != r.KeepVersions {
			t.Fatalf("Release reads back as %+v, the release is %+v", got, r)
		}
		if r.ButAutomaticUpgrades && !r.NotAutomatic {
			t.Fatalf("accepted ButAutomaticUpgrades without NotAutomatic")
		}
	})
}
