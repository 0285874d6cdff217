package e2e

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/wire"
	"github.com/aptq/aptq/worker"
)

// hookRequest is one POST a receiver got.
type hookRequest struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a real HTTP server standing for users' webhook receivers:
// /flaky answers 500 to the first attempt of each delivery and 200 to the
// next; /hang holds every request until release is closed; others answer 200.
type receiver struct {
	*httptest.Server
	got     chan hookRequest
	hanging chan context.Context
	release chan struct{}
	mu      sync.Mutex
	seen    map[string]int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan hookRequest, 64), hanging: make(chan context.Context, 8),
		release: make(chan struct{}), seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.got <- hookRequest{path: req.URL.Path, header: req.Header.Clone(), body: body}
		switch req.URL.Path {
		case "/hang":
			r.hanging <- req.Context()
			<-r.release
		case "/flaky":
			r.mu.Lock()
			r.seen[req.Header.Get(worker.HeaderWebhookDelivery)]++
			first := r.seen[req.Header.Get(worker.HeaderWebhookDelivery)] == 1
			r.mu.Unlock()
			if first {
				http.Error(w, "try again later", http.StatusInternalServerError)
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(func() { close(r.release); r.Close() })
	return r
}

// next waits for the receiver's next request.
func (r *receiver) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(90 * time.Second):
		t.Fatal("no webhook request within 90 s")
		return hookRequest{}
	}
}

// verifySignature checks a request as docs/api.md tells receivers to.
func verifySignature(t *testing.T, secret string, req hookRequest) {
	t.Helper()
	ts := req.header.Get(worker.HeaderWebhookTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), time.Unix(sec, 0), 5*time.Minute)
	want := "sha256=" + worker.WebhookSignature(secret, ts, req.body)
	require.True(t, hmac.Equal([]byte(want), []byte(req.header.Get(worker.HeaderWebhookSignature))), "bad signature")
	require.NotEqual(t, "sha256="+worker.WebhookSignature("whsec_wrong", ts, req.body), req.header.Get(worker.HeaderWebhookSignature))
}

// TestWebhookDelivery: a publish POSTs a signed "published" event with the
// round's changes, packages and submitter; a 500 is retried with the same
// delivery id and body; the attempts show in aptq webhook deliveries; a
// receiver that hangs does not hold up the next publish; and another
// tenant's webhook gets nothing of this tenant's events.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	// A long attempt timeout: the /hang delivery must still be in flight
	// when the next publish ends, however slow the machine.
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_WEBHOOK_ALLOW_PRIVATE=1", "APTQ_WEBHOOK_TIMEOUT=2m"}})
	recv := newReceiver(t)
	key := b.repoWithKey("main", "stable")
	secret := strings.TrimSpace(b.mustCLI("webhook", "add", "--repo", "main", recv.URL+"/flaky"))
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	b.mustCLI("webhook", "add", "--repo", "main", "--events", "published", recv.URL+"/hang")
	var hooks wire.WebhookList
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("webhook", "list", "--repo", "main", "--json")), &hooks))
	require.Len(t, hooks.Webhooks, 2)
	flakyID := strconv.FormatInt(hooks.Webhooks[0].ID, 10)
	for _, w := range hooks.Webhooks {
		require.Empty(t, w.Secret)
	}

	// Another tenant, on the same server, with a webhook on its own "main".
	out, err := exec.Command(filepath.Join(binDir, "aptqd"), "admin", "create-tenant", "o-"+b.Tenant,
		"--database-url", b.dbURL).CombinedOutput()
	require.NoError(t, err, string(out))
	other := []string{"APTQ_TOKEN=" + strings.TrimSpace(string(out))}
	otherRecv := newReceiver(t)
	ctx := context.Background()
	for _, args := range [][]string{{"repo", "create", "main"}, {"webhook", "add", "--repo", "main", otherRecv.URL + "/other"}} {
		stdout, stderr, code := b.cliEnv(ctx, other, args...)
		require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
	}

	deb := writeDeb(t, b.dir, debtest.Options{Package: "hooked", Version: "1.0", Architecture: "amd64"})
	require.Contains(t, b.mustCLI("pkg", "add", "--repo", "main", "--release", "stable", "--key", key, deb), "published generation 1")

	byPath := map[string][]hookRequest{}
	for len(byPath["/flaky"]) < 2 || len(byPath["/hang"]) < 1 {
		req := recv.next(t)
		byPath[req.path] = append(byPath[req.path], req)
	}
	first, retry := byPath["/flaky"][0], byPath["/flaky"][1]
	verifySignature(t, secret, first)
	verifySignature(t, secret, retry)
	require.Equal(t, first.body, retry.body, "a retry sends the same event")
	require.Equal(t, first.header.Get(worker.HeaderWebhookDelivery), retry.header.Get(worker.HeaderWebhookDelivery))
	require.Equal(t, "published", first.header.Get(worker.HeaderWebhookEvent))
	var event struct {
		ID, Event, Tenant, Repo, Release string
		Generation                       int64
		Changes                          []struct {
			Submitter string
			Adds      []struct{ Name, Version, Architecture, Component string }
		}
	}
	require.NoError(t, json.Unmarshal(first.body, &event))
	require.Equal(t, first.header.Get(worker.HeaderWebhookDelivery), event.ID)
	require.Equal(t, []string{"published", b.Tenant, "main", "stable"}, []string{event.Event, event.Tenant, event.Repo, event.Release})
	require.Equal(t, int64(1), event.Generation)
	require.Len(t, event.Changes, 1)
	require.NotEmpty(t, event.Changes[0].Submitter)
	require.Equal(t, []struct{ Name, Version, Architecture, Component string }{{"hooked", "1.0", "amd64", "main"}},
		event.Changes[0].Adds)

	// The /hang receiver holds its delivery; a publish meanwhile is not held.
	held := <-recv.hanging
	deb2 := writeDeb(t, b.dir, debtest.Options{Package: "hooked-two", Version: "1.0", Architecture: "amd64"})
	require.Contains(t, b.mustCLI("pkg", "add", "--repo", "main", "--release", "stable", "--key", key, deb2), "published generation 2")
	require.NoError(t, held.Err(), "the hanging delivery was still in flight when the next publish ended")

	// The attempts are visible: the first delivery took two, and kept the answer.
	require.Eventually(t, func() bool {
		var list wire.WebhookDeliveryList
		require.NoError(t, json.Unmarshal([]byte(b.mustCLI("webhook", "deliveries", "--repo", "main", flakyID, "--json")), &list))
		for _, d := range list.Deliveries {
			if d.EventID == event.ID {
				return d.State == "delivered" && d.Attempts == 2 && d.ResponseStatus == 200 && d.ResponseBody == "ok"
			}
		}
		return false
	}, 60*time.Second, 200*time.Millisecond)
	table := b.mustCLI("webhook", "deliveries", "--repo", "main", flakyID)
	require.Contains(t, table, event.ID)

	// The other tenant's webhook got nothing, and has no delivery recorded:
	// deliveries are recorded in the publishing transaction, which is over.
	var otherHooks wire.WebhookList
	stdout, _, code := b.cliEnv(ctx, other, "webhook", "list", "--repo", "main", "--json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &otherHooks))
	stdout, _, code = b.cliEnv(ctx, other, "webhook", "deliveries", "--repo", "main",
		strconv.FormatInt(otherHooks.Webhooks[0].ID, 10), "--json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"deliveries":[]}`, stdout)
	require.Empty(t, otherRecv.got)
	// And this tenant cannot see or remove the other's webhook.
	_, stderr, code := b.cli(ctx, "webhook", "remove", "--repo", "main", strconv.FormatInt(otherHooks.Webhooks[0].ID, 10))
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "not_found")

	require.Contains(t, b.mustCLI("webhook", "remove", "--repo", "main", flakyID), "removed webhook "+flakyID)
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("webhook", "list", "--repo", "main", "--json")), &hooks))
	require.Len(t, hooks.Webhooks, 1)
	require.NotEqual(t, flakyID, strconv.FormatInt(hooks.Webhooks[0].ID, 10))
}
