package mirror

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
)

func TestOpenFileChecksContent(t *testing.T) {
	t.Parallel()
	content := []byte("the .deb the index vouches for")
	e := Entry{Filename: "pool/a.deb", Size: int64(len(content)), SHA256: hexSum(content)}
	for _, tt := range []struct {
		name, body, want string
	}{
		{"same", string(content), ""},
		{"other content", strings.Replace(string(content), "deb", "DEB", 1), "pool/a.deb has SHA256 "},
		{"shorter", string(content[:5]), "pool/a.deb has 5 bytes, its index says 30"},
		{"longer", string(content) + "!", "pool/a.deb is larger than the 30 bytes its index says"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Source{Fetcher: memFetcher{"pool/a.deb": []byte(tt.body)}}
			rc, err := s.OpenFile(context.Background(), e)
			require.NoError(t, err)
			defer rc.Close()
			// A small buffer, as an upload reads: the check holds across reads.
			var got []byte
			buf := make([]byte, 7)
			for {
				n, err := rc.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					require.Empty(t, tt.want)
					require.Equal(t, content, got)
					return
				}
				if err != nil {
					require.ErrorIs(t, err, ErrIntegrity)
					require.ErrorContains(t, err, tt.want)
					require.NotEmpty(t, tt.want)
					return
				}
			}
		})
	}
	_, err := (&Source{Fetcher: memFetcher{}}).OpenFile(context.Background(), Entry{Filename: "../x"})
	require.ErrorContains(t, err, "must be relative")
}

func TestHTTPFetcher(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from elsewhere")
	}))
	defer other.Close()
	var seen []string
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.EscapedPath())
		switch r.URL.Path {
		case "/repo/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/repo/near":
			http.Redirect(w, r, "/repo/pool/x%3a1.deb", http.StatusFound)
		case "/repo/loop":
			http.Redirect(w, r, "/repo/loop", http.StatusFound)
		case "/repo/pool/x:1.deb", "/repo/pool/a%b.deb":
			_, _ = io.WriteString(w, "ok "+r.URL.Path)
		case "/repo/stall":
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer src.Close()
	h, err := NewHTTP(src.URL+"/repo", HTTPConfig{Stall: 200 * time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	get := func(rel string) (string, error) {
		rc, err := h.Open(ctx, rel)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}

	body, err := get("near")
	require.NoError(t, err)
	require.Equal(t, "ok /repo/pool/x:1.deb", body)
	body, err = get("pool/a%b.deb") // a literal '%' is escaped, not decoded
	require.NoError(t, err)
	require.Equal(t, "ok /repo/pool/a%b.deb", body)
	require.Contains(t, seen, "/repo/pool/a%25b.deb")

	_, err = get("away")
	require.ErrorContains(t, err, "redirect to http://"+strings.TrimPrefix(other.URL, "http://")+" refused")
	_, err = get("loop")
	require.ErrorContains(t, err, "more than 5 redirects")
	_, err = get("missing")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = get("../outside")
	require.ErrorContains(t, err, "must be relative")
	_, err = get("stall")
	require.ErrorIs(t, err, errStalled)

	for _, bad := range []string{"ftp://x/", "http://user:pw@x/", "http://x/?q=1", "/local/dir", "http:///nohost"} {
		_, err := NewHTTP(bad, HTTPConfig{})
		require.Error(t, err, bad)
	}
}

// TestReadRelease reads InRelease, else Release with Release.gpg, checks
// the signature against the keyring, and refuses any other key's.
func TestReadRelease(t *testing.T) {
	t.Parallel()
	key := func() (*sign.Signer, []byte) {
		priv, pub, err := sign.GenerateKey("src", "src@example.com")
		require.NoError(t, err)
		s, err := sign.ParsePrivateKey(priv, nil)
		require.NoError(t, err)
		return s, pub
	}
	signer, pub := key()
	_, otherPub := key()
	release := []byte("Suite: bookworm\nComponents: main\nArchitectures: amd64\nSHA256:\n " + sumA + " 10 main/binary-amd64/Packages\n")
	inRelease, releaseGPG, err := sign.Sign(release, signer)
	require.NoError(t, err)
	const dir = "dists/bookworm/"
	both := memFetcher{dir + "InRelease": inRelease, dir + "Release": release, dir + "Release.gpg": releaseGPG}
	detached := memFetcher{dir + "Release": release, dir + "Release.gpg": releaseGPG}
	unsigned := memFetcher{dir + "Release": release}

	for _, tt := range []struct {
		name    string
		files   memFetcher
		keyring []byte
		path    string
		signed  bool
		want    string
	}{
		{"InRelease", both, pub, dir + "InRelease", true, ""},
		{"Release.gpg", detached, pub, dir + "Release", true, ""},
		{"no keyring", both, nil, dir + "InRelease", false, ""},
		{"no keyring, unsigned", unsigned, nil, dir + "Release", false, ""},
		{"other key", both, otherPub, "", false, "dists/bookworm/InRelease: verify InRelease: not signed by a registered key"},
		{"other key, Release.gpg", detached, otherPub, "", false, "dists/bookworm/Release: verify Release.gpg: not signed by a registered key"},
		{"unsigned with keyring", unsigned, pub, "", false, "neither InRelease nor Release.gpg exists"},
		{"nothing", memFetcher{}, nil, "", false, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Source{Fetcher: tt.files, Dist: "bookworm"}
			if tt.keyring != nil {
				s.Keyring = [][]byte{tt.keyring}
			}
			r, err := s.ReadRelease(context.Background())
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.path, r.Path)
			require.Equal(t, []string{"main"}, r.Meta.Components)
			if tt.signed {
				require.Equal(t, []string{signer.Fingerprint()}, r.SignedBy)
			} else {
				require.Empty(t, r.SignedBy)
			}
		})
	}
	_, err = (&Source{Fetcher: both, Dist: "../../x"}).ReadRelease(context.Background())
	require.ErrorContains(t, err, `distribution "../../x"`)
	require.False(t, errors.Is(err, ErrNotFound))
}
