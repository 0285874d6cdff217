package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// How the fake worker treats a job after its change is submitted.
const (
	publishes    = "publishes"      // awaits a signature, publishes once it verifies
	signedByPeer = "signed_by_peer" // awaits a signature, another client signs first
	fails        = "fails"          // fails with signature_timeout
	neverEnds    = "never_ends"     // stays queued
)

const (
	fakeToken   = "tok"
	fakeJobID   = 17
	fakeRoundID = 9
	fakeGen     = 42
	fakeRepoURL = "http://apt.example/apt/t/acme"
	fakeRelease = "Origin: acme\nLabel: acme\nSuite: stable\nCodename: stable\n" +
		"Architectures: amd64\nComponents: main\nAcquire-By-Hash: yes\n"
)

// fakeAPI implements the parts of docs/api.md that the CLI uses, for the
// one repository "acme" with the one release "stable". Handlers check with
// assert: they run on the server's goroutines.
type fakeAPI struct {
	t         *testing.T
	mode      string
	publicKey []byte // signatures must verify against it
	archs     []string

	mu       sync.Mutex
	packages map[string]bool // sha256 → present
	state    string
	seen     seen
}

// seen is what the fake was sent.
type seen struct {
	requests   int
	uploaded   []string
	changes    []client.ChangeRequest
	polls      []url.Values
	signatures []client.SignatureRequest
}

func newFakeAPI(t *testing.T, mode string, publicKey []byte) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, mode: mode, publicKey: publicKey, archs: []string{"amd64"}, packages: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/repos/acme", f.getRepo)
	mux.HandleFunc("POST /v1/repos/acme/keys", f.addKey)
	mux.HandleFunc("GET /v1/repos/acme/releases/stable", f.getRelease)
	mux.HandleFunc("HEAD /v1/packages/{sha}", f.headPackage)
	mux.HandleFunc("PUT /v1/packages/{sha}", f.putPackage)
	mux.HandleFunc("POST /v1/repos/acme/releases/stable/changes", f.submitChange)
	mux.HandleFunc("GET /v1/jobs/{id}", f.getJob)
	mux.HandleFunc("POST /v1/rounds/{id}/signature", f.postSignature)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen.requests++
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			reply(w, http.StatusUnauthorized, map[string]string{"code": "unauthorized", "message": "unknown token"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeAPI) release() client.Release {
	return client.Release{Name: "stable", Components: []string{"main"}, Architectures: f.archs,
		Generation: fakeGen - 1, PublishedGeneration: fakeGen - 1}
}

func (f *fakeAPI) getRepo(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, client.Repo{Name: "acme", URL: fakeRepoURL,
		Keys:     []client.Key{{Fingerprint: "ABCD", UserIDs: []string{"ACME <r@acme>"}}},
		Releases: []client.Release{f.release()}})
}

func (f *fakeAPI) addKey(w http.ResponseWriter, r *http.Request) {
	var req struct{ Armored string }
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	pk, err := sign.ParsePublicKey([]byte(req.Armored))
	if !assert.NoError(f.t, err) {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"code": "invalid_key", "message": err.Error()})
		return
	}
	reply(w, http.StatusCreated, client.Key{Fingerprint: pk.Fingerprint, UserIDs: pk.UserIDs})
}

func (f *fakeAPI) getRelease(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, f.release())
}

func (f *fakeAPI) headPackage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.packages[r.PathValue("sha")] {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

func (f *fakeAPI) putPackage(w http.ResponseWriter, r *http.Request) {
	assert.Positive(f.t, r.ContentLength, "uploads carry Content-Length")
	h := sha256.New()
	_, err := io.Copy(h, r.Body)
	assert.NoError(f.t, err)
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != r.PathValue("sha") {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"code": "checksum_mismatch", "message": "sha256 differs"})
		return
	}
	f.mu.Lock()
	f.packages[sum] = true
	f.seen.uploaded = append(f.seen.uploaded, sum)
	f.mu.Unlock()
	reply(w, http.StatusCreated, client.Package{SHA256: sum, Name: "hello", Version: "1.0", Architecture: "amd64"})
}

func (f *fakeAPI) submitChange(w http.ResponseWriter, r *http.Request) {
	var req client.ChangeRequest
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, add := range req.Adds {
		if !f.packages[add.SHA256] {
			reply(w, http.StatusUnprocessableEntity, map[string]string{"code": "unknown_package", "message": add.SHA256})
			return
		}
	}
	f.seen.changes = append(f.seen.changes, req)
	f.state = client.JobQueued
	reply(w, http.StatusAccepted, client.JobRef{JobID: fakeJobID, ChangeID: fakeJobID})
}

// getJob long-polls like the server: with state, it answers when the job
// moved on, or after wait (or when the client gives up).
func (f *fakeAPI) getJob(w http.ResponseWriter, r *http.Request) {
	assert.Equal(f.t, fmt.Sprint(fakeJobID), r.PathValue("id"))
	q := r.URL.Query()
	f.mu.Lock()
	f.seen.polls = append(f.seen.polls, q)
	if f.state == client.JobQueued && f.mode != neverEnds && q.Get("state") == client.JobQueued {
		f.state = client.JobAwaitingSignature // the worker cut a round
		if f.mode == fails {
			f.state = client.JobFailed
		}
	}
	state := f.state
	f.mu.Unlock()

	if state == q.Get("state") {
		wait, err := time.ParseDuration(q.Get("wait"))
		assert.NoError(f.t, err)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(wait):
		}
	}
	job := client.Job{JobID: fakeJobID, ChangeID: fakeJobID, Repo: "acme", Release: "stable", State: state}
	switch state {
	case client.JobAwaitingSignature:
		job.Generation = fakeGen
		job.Round = &client.Round{ID: fakeRoundID, Generation: fakeGen, State: client.JobAwaitingSignature, Release: fakeRelease}
	case client.JobPublished:
		job.Generation, job.URL = fakeGen, fakeRepoURL
	case client.JobFailed:
		job.Error = &client.JobError{Code: "signature_timeout", Message: "no signature within 120s"}
	}
	reply(w, http.StatusOK, job)
}

func (f *fakeAPI) postSignature(w http.ResponseWriter, r *http.Request) {
	assert.Equal(f.t, fmt.Sprint(fakeRoundID), r.PathValue("id"))
	var req client.SignatureRequest
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.signatures = append(f.seen.signatures, req)
	f.state = client.JobPublished
	if f.mode == signedByPeer {
		reply(w, http.StatusConflict, map[string]string{"code": "already_signed", "message": "round 9 is signed"})
		return
	}
	assert.EqualValues(f.t, fakeGen, req.Generation)
	signers, err := sign.Verify([]byte(fakeRelease), []byte(req.InRelease), []byte(req.ReleaseGPG), [][]byte{f.publicKey})
	if err != nil {
		f.state = client.JobAwaitingSignature
		code := "bad_signature"
		if errors.Is(err, sign.ErrUnknownKey) {
			code = "unknown_key"
		}
		reply(w, http.StatusUnprocessableEntity, map[string]string{"code": code, "message": err.Error()})
		return
	}
	reply(w, http.StatusOK, client.SignatureResult{RoundID: fakeRoundID, Generation: fakeGen, State: "signed", Signers: signers})
}

// snapshot returns what the fake was sent so far.
func (f *fakeAPI) snapshot() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}
