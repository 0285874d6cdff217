package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

// FuzzBind decodes arbitrary bodies into every request type the API binds
// and checks what bind promises: a body is accepted only if it is at most
// maxJSONBody bytes of exactly one JSON value; anything else is a 400 or
// 413 with a code; and a release that passes validation stays within the
// limits a Release file needs. The seed corpus is testdata/fuzz/FuzzBind.
func FuzzBind(f *testing.F) {
	for _, s := range []string{
		`{"adds":[{"sha256":"` + strings.Repeat("a", 64) + `","component":"main"}],"removes":[]}`,
		`{"name":"stable","components":["main"],"architectures":["amd64"],"valid_for":"7d"}`,
		`{"armored":"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n"}`,
		`{"generation":3,"inrelease":"x","release_gpg":"y"}`,
		`{"name":"a"}{"name":"b"}`, `{} `, `[]`, `null`, `{"name":"a"`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	e := echo.New()
	targets := []func() any{
		func() any { return new(ChangeRequest) },
		func() any { return new(ReleaseRequest) },
		func() any { return new(SignatureRequest) },
		func() any {
			return new(struct {
				Armored string `json:"armored"`
			})
		},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			v := target()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), httptest.NewRecorder())
			err := bind(c, v)
			if err == nil {
				if len(body) > maxJSONBody {
					t.Fatalf("accepted a body of %d bytes", len(body))
				}
				if !json.Valid(body) {
					t.Fatalf("accepted a body that is not one JSON value: %q", body)
				}
				if r, ok := v.(*ReleaseRequest); ok {
					checkRelease(t, r)
				}
				continue
			}
			var se *store.Error
			if !errors.As(err, &se) {
				t.Fatalf("error without a code: %v", err)
			}
			if status, _ := toBody(err); status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %v", status, err)
			}
		}
	})
}

// checkRelease validates r and, if it passes, checks the limits hold.
func checkRelease(t *testing.T, r *ReleaseRequest) {
	if validateRelease(r, "repo") != nil {
		return
	}
	if len(r.Components) > maxComponents || len(r.Architectures) > maxArchitectures {
		t.Fatalf("accepted %d components, %d architectures", len(r.Components), len(r.Architectures))
	}
	for _, v := range []string{r.Origin, r.Label, r.Suite, r.Codename, r.Version, r.Description} {
		if len(v) > maxReleaseText || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			t.Fatalf("accepted release text %q", v)
		}
	}
}
