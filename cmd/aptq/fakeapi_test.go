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
	t     *testing.T
	mode  string
	archs []string

	mu   sync.Mutex
	keys [][]byte // registered public keys: signatures must verify against them
	// listed, when set, are the keys GET …/keys shows instead of keys: a key
	// removed between the CLI's check and its signature.
	listed [][]byte
	// awaitPollWhileSigning makes the signature endpoint check (waiting up
	// to 10 s for one to start) that a poll of the job is in progress while
	// the signature arrives, as a slow signer's server would need to count
	// its client present: the client must keep polling while it signs.
	awaitPollWhileSigning bool
	polled                chan struct{}   // a poll started
	polling               int             // polls in progress
	packages              map[string]bool // sha256 → present
	members               []client.ReleasePackage
	state                 string
	seen                  seen
}

// seen is what the fake was sent.
type seen struct {
	requests    int
	created     []client.ReleaseRequest
	uploaded    []string
	changes     []client.ChangeRequest
	removals    []client.RemovalRequest
	resigns     int
	rollbacks   []int64
	polls       []url.Values
	signatures  []client.SignatureRequest
	signers     [][]string // what sign.Verify said of each accepted signature
	removedKeys []string
	cancelled   int
	// cancelReasons are the reason codes cancels named ("" for none).
	cancelReasons []string
	// polledWhileSigning: a poll of the job was in progress while the
	// signature request was being answered (see awaitPollWhileSigning).
	polledWhileSigning bool
}

// newFakeAPI starts the fake with publicKeys registered on "acme".
func newFakeAPI(t *testing.T, mode string, publicKeys ...[]byte) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, mode: mode, keys: publicKeys, archs: []string{"amd64"}, packages: map[string]bool{},
		members: fakeMembers}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/repos", f.listRepos)
	mux.HandleFunc("GET /v1/repos/acme", f.getRepo)
	mux.HandleFunc("POST /v1/repos/acme/keys", f.addKey)
	mux.HandleFunc("GET /v1/repos/acme/keys", f.listKeys)
	mux.HandleFunc("DELETE /v1/repos/acme/keys/{fpr}", f.removeKey)
	mux.HandleFunc("GET /v1/repos/acme/releases/stable", f.getRelease)
	mux.HandleFunc("POST /v1/repos/acme/releases", f.createRelease)
	mux.HandleFunc("POST /v1/repos/acme/releases/stable/resign", f.resign)
	mux.HandleFunc("POST /v1/repos/acme/releases/stable/rollback", f.rollback)
	mux.HandleFunc("GET /v1/repos/acme/releases/stable/history", f.history)
	mux.HandleFunc("GET /v1/repos/acme/releases/stable/packages", f.listPackages)
	mux.HandleFunc("DELETE /v1/jobs/{id}", f.cancelJob)
	mux.HandleFunc("HEAD /v1/packages/{sha}", f.headPackage)
	mux.HandleFunc("PUT /v1/packages/{sha}", f.putPackage)
	mux.HandleFunc("POST /v1/repos/acme/releases/stable/changes", f.submitChange)
	mux.HandleFunc("POST /v1/repos/acme/releases/stable/removals", f.removePackages)
	mux.HandleFunc("GET /v1/jobs/{id}", f.getJob)
	mux.HandleFunc("GET /v1/rounds/{id}", f.getRound)
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

func (f *fakeAPI) listRepos(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, map[string][]client.Repo{"repos": {{Name: "acme", URL: fakeRepoURL}}})
}

func (f *fakeAPI) getRepo(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, client.Repo{Name: "acme", URL: fakeRepoURL,
		Keys:     []client.Key{{Fingerprint: "ABCD", UserIDs: []string{"ACME <r@acme>"}}},
		Releases: []client.Release{f.release()}})
}

func (f *fakeAPI) listKeys(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	armored := f.keys
	if f.listed != nil {
		armored = f.listed
	}
	f.mu.Unlock()
	keys := []client.Key{}
	for _, a := range armored {
		pk, err := sign.ParsePublicKey(a)
		if assert.NoError(f.t, err) {
			keys = append(keys, client.Key{Fingerprint: pk.Fingerprint, UserIDs: pk.UserIDs})
		}
	}
	reply(w, http.StatusOK, map[string][]client.Key{"keys": keys})
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

// removeKey refuses to remove the last key, as the server does.
func (f *fakeAPI) removeKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fpr := r.PathValue("fpr")
	for i, k := range f.keys {
		pk, err := sign.ParsePublicKey(k)
		assert.NoError(f.t, err)
		if pk.Fingerprint != fpr {
			continue
		}
		if len(f.keys) == 1 {
			reply(w, http.StatusConflict, map[string]string{"code": "last_key", "message": "acme keeps at least one key"})
			return
		}
		f.keys = append(f.keys[:i:i], f.keys[i+1:]...)
		f.seen.removedKeys = append(f.seen.removedKeys, fpr)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reply(w, http.StatusNotFound, map[string]string{"code": "not_found", "message": "no key " + fpr})
}

func (f *fakeAPI) getRelease(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, f.release())
}

func (f *fakeAPI) createRelease(w http.ResponseWriter, r *http.Request) {
	var req client.ReleaseRequest
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	f.mu.Lock()
	f.seen.created = append(f.seen.created, req)
	f.mu.Unlock()
	rel := f.release()
	rel.Name, rel.ValidFor = req.Name, req.ValidFor
	reply(w, http.StatusCreated, rel)
}

// startJob makes the one job queued, as a 202 does.
func (f *fakeAPI) startJob(w http.ResponseWriter) {
	f.state = client.JobQueued
	reply(w, http.StatusAccepted, client.JobRef{JobID: fakeJobID, ChangeID: fakeJobID})
}

func (f *fakeAPI) resign(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.resigns++
	f.startJob(w)
}

func (f *fakeAPI) rollback(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Generation int64 `json:"generation"`
	}
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	if req.Generation >= fakeGen {
		reply(w, http.StatusUnprocessableEntity, map[string]any{"code": "invalid",
			"message": "not a committed generation", "details": map[string]string{"field": "generation"}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.rollbacks = append(f.seen.rollbacks, req.Generation)
	f.startJob(w)
}

var fakeHistory = []client.Generation{
	{Generation: fakeGen - 1, Date: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC), RoundID: 8, Changes: 2, Adds: 3,
		Signers: []string{"AAAA", "BBBB"}, Submitters: []client.TokenRef{{ID: 3, Name: "ci"}, {ID: 4, Name: "nightly"}},
		SignedBy: &client.TokenRef{ID: 3, Name: "ci"}},
	{Generation: fakeGen - 2, Date: time.Date(2025, 1, 31, 9, 0, 0, 0, time.UTC), RoundID: 7, Changes: 1, Removes: 1,
		Signers: []string{"AAAA"}},
}

func (f *fakeAPI) history(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, map[string]any{"generations": fakeHistory})
}

var fakeMembers = []client.ReleasePackage{
	{Component: "main", Name: "hello", Version: "1.0", Architecture: "amd64", SHA256: "aa11", Size: 1234,
		Filename: "pool/main/h/hello/hello_1.0_amd64.deb", Control: "Package: hello\nVersion: 1.0\nArchitecture: amd64\n"},
	{Component: "main", Name: "hello", Version: "2.0", Architecture: "amd64", SHA256: "bb22", Size: 2345,
		Filename: "pool/main/h/hello/hello_2.0_amd64.deb", Control: "Package: hello\nVersion: 2.0\nArchitecture: amd64\n"},
	{Component: "contrib", Name: "world", Version: "1.0", Architecture: "all", SHA256: "cc33", Size: 99,
		Filename: "pool/contrib/w/world/world_1.0_all.deb", Control: "Package: world\nVersion: 1.0\nArchitecture: all\n"},
}

func (f *fakeAPI) listPackages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []client.ReleasePackage{}
	for _, p := range f.members {
		if (q.Get("name") == "" || q.Get("name") == p.Name) &&
			(q.Get("component") == "" || q.Get("component") == p.Component) &&
			(q.Get("architecture") == "" || q.Get("architecture") == p.Architecture) {
			out = append(out, p)
		}
	}
	reply(w, http.StatusOK, map[string]any{"packages": out})
}

func (f *fakeAPI) cancelJob(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.cancelled++
	f.seen.cancelReasons = append(f.seen.cancelReasons, r.URL.Query().Get("reason_code"))
	f.state = client.JobCancelled
	reply(w, http.StatusOK, client.Job{JobID: fakeJobID, ChangeID: fakeJobID, State: f.state,
		Error: &client.JobError{Code: "cancelled", Message: "cancelled by the client"}})
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
	f.startJob(w)
}

// removePackages plans the removal of hello 1.0 and, unless a dry run,
// starts its job.
func (f *fakeAPI) removePackages(w http.ResponseWriter, r *http.Request) {
	var req client.RemovalRequest
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.removals = append(f.seen.removals, req)
	plan := client.Plan{DryRun: req.DryRun, Items: []client.PlanItem{{Op: "-", Name: "hello", Version: "1.0",
		Architecture: "amd64", Component: req.Component}}}
	if req.DryRun {
		reply(w, http.StatusOK, plan)
		return
	}
	id := int64(fakeJobID)
	plan.JobID, plan.ChangeID = &id, &id
	f.state = client.JobQueued
	reply(w, http.StatusAccepted, plan)
}

// getJob long-polls like the server: with state, it answers when the job
// moved on, or after wait (or when the client gives up).
func (f *fakeAPI) getJob(w http.ResponseWriter, r *http.Request) {
	assert.Equal(f.t, fmt.Sprint(fakeJobID), r.PathValue("id"))
	q := r.URL.Query()
	f.mu.Lock()
	f.seen.polls = append(f.seen.polls, q)
	f.polling++
	defer func() {
		f.mu.Lock()
		f.polling--
		f.mu.Unlock()
	}()
	if f.polled != nil {
		select {
		case f.polled <- struct{}{}:
		default:
		}
	}
	if f.mode != neverEnds && q.Get("state") == f.state {
		switch f.state { // the worker moves on
		case client.JobQueued:
			f.state = client.JobAwaitingSignature // a round is cut
			if f.mode == fails {
				f.state = client.JobFailed
			}
		case client.JobSigned:
			f.state = client.JobCommitted
		case client.JobCommitted:
			f.state = client.JobPublished
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
	case client.JobSigned, client.JobCommitted:
		job.Generation = fakeGen
	case client.JobPublished:
		job.Generation, job.URL = fakeGen, fakeRepoURL
	case client.JobFailed:
		job.Error = &client.JobError{Code: "signature_timeout", Message: "no signature within 120s"}
	case client.JobCancelled:
		job.Error = &client.JobError{Code: "cancelled", Message: "cancelled by the client"}
	}
	reply(w, http.StatusOK, job)
}

func (f *fakeAPI) postSignature(w http.ResponseWriter, r *http.Request) {
	assert.Equal(f.t, fmt.Sprint(fakeRoundID), r.PathValue("id"))
	var req client.SignatureRequest
	assert.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
	if f.awaitPollWhileSigning {
		f.mu.Lock()
		polling := f.polling > 0
		f.mu.Unlock()
		if !polling {
			select { // a poll that ended before the signature does not count
			case <-f.polled:
			default:
			}
			select {
			case <-f.polled: // started meanwhile, with the signature
				polling = true
			case <-time.After(10 * time.Second):
			}
		}
		f.mu.Lock()
		f.seen.polledWhileSigning = polling
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.signatures = append(f.seen.signatures, req)
	f.state = client.JobSigned
	if f.mode == signedByPeer {
		reply(w, http.StatusConflict, map[string]string{"code": "already_signed", "message": "round 9 is signed"})
		return
	}
	assert.EqualValues(f.t, fakeGen, req.Generation)
	// As the server: every signature by a registered key must verify, and
	// at least one must be by a registered key.
	signers, err := sign.Verify([]byte(fakeRelease), []byte(req.InRelease), []byte(req.ReleaseGPG), f.keys)
	if err != nil {
		f.state = client.JobAwaitingSignature
		code := "bad_signature"
		if errors.Is(err, sign.ErrUnknownKey) {
			code = "unknown_key"
		}
		reply(w, http.StatusUnprocessableEntity, map[string]string{"code": code, "message": err.Error()})
		return
	}
	f.seen.signers = append(f.seen.signers, signers)
	reply(w, http.StatusOK, client.SignatureResult{RoundID: fakeRoundID, Generation: fakeGen, State: "signed", Signers: signers})
}

// snapshot returns what the fake was sent so far.
// getRound describes the round as a server that lost the previous
// generation would: no signer may verify it.
func (f *fakeAPI) getRound(w http.ResponseWriter, r *http.Request) {
	assert.Equal(f.t, fmt.Sprint(fakeRoundID), r.PathValue("id"))
	reply(w, http.StatusOK, client.RoundView{ID: fakeRoundID, Generation: fakeGen, Repo: "acme", Release: "stable",
		URL: fakeRepoURL, ReleaseBytes: fakeRelease, PreviousGeneration: fakeGen - 1,
		Changes: []client.RoundChange{{ID: fakeJobID, JobID: fakeJobID, TokenName: "ci"}}})
}

func (f *fakeAPI) snapshot() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}
