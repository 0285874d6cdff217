package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// cutRound cuts a round of one new change, awaiting its signature.
func (b *bundle) cutRound(t *testing.T) store.Round {
	t.Helper()
	c := b.addChange(t, "hook-"+systest.RandomHex(4))
	lease, ok, err := b.store.AcquireLease(b.ctx, b.release.ID, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	r, err := b.store.CutRound(b.ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC().Truncate(time.Second),
		ReleaseBytes: []byte("Origin: o\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{c.ID}, SignatureTimeout: time.Minute})
	require.NoError(t, err)
	return r
}

// TestWebhookEnqueuedInTransaction: a failed round records its delivery and
// inserts its River job in the transaction that fails it; when the insert
// fails, the round does not fail either (no event is lost), and when the
// round cannot fail, nothing is sent (no event for what did not happen).
func TestWebhookEnqueuedInTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook, _, err := b.store.CreateWebhook(b.ctx, b.repo.ID, "https://hooks.example.com/x", []string{store.WebhookFailed})
	require.NoError(t, err)
	round := b.cutRound(t)

	b.store.EnqueueWebhooks = func(context.Context, pgx.Tx, []int64) error { return errors.New("queue down") }
	require.ErrorContains(t, b.store.FailRound(b.ctx, round, store.CodeSignatureTimeout, "late"), "queue down")
	var state string
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT state FROM rounds WHERE id = $1`, round.ID).Scan(&state))
	require.Equal(t, store.RoundAwaitingSignature, state, "the failure rolled back with its event")
	ds, err := b.store.WebhookDeliveries(b.ctx, b.repo.ID, hook.ID, 10)
	require.NoError(t, err)
	require.Empty(t, ds)

	rc, err := river.NewClient(riverpgxv5.New(b.store.Pool), &river.Config{})
	require.NoError(t, err)
	b.store.EnqueueWebhooks = WebhookEnqueuer(rc)
	require.NoError(t, b.store.FailRound(b.ctx, round, store.CodeSignatureTimeout, "late"))
	ds, err = b.store.WebhookDeliveries(b.ctx, b.repo.ID, hook.ID, 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, store.DeliveryPending, ds[0].State)
	var deliveryID int64
	var queue string
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT (args->>'delivery_id')::bigint, queue FROM river_job WHERE kind = $1`,
		jobs.WebhookArgs{}.Kind()).Scan(&deliveryID, &queue))
	require.Equal(t, ds[0].ID, deliveryID)
	require.Equal(t, jobs.WebhookQueue, queue)

	target, err := b.store.DeliveryTarget(b.ctx, ds[0].ID)
	require.NoError(t, err)
	var event struct {
		ID, Event, Repo string
		Error           struct{ Code, Message string }
		Changes         []struct{ ID int64 }
	}
	require.NoError(t, json.Unmarshal(target.Payload, &event))
	require.Equal(t, ds[0].EventID, event.ID)
	require.Equal(t, []string{"failed", "repo", store.CodeSignatureTimeout, "late"},
		[]string{event.Event, event.Repo, event.Error.Code, event.Error.Message})
	require.Len(t, event.Changes, 1)

	// Failing it again is refused, and sends nothing more.
	require.Error(t, b.store.FailRound(b.ctx, round, store.CodeSignatureTimeout, "late"))
	ds, err = b.store.WebhookDeliveries(b.ctx, b.repo.ID, hook.ID, 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
}

// webhookJob is the job River would hand the worker for a delivery.
func webhookJob(id int64, attempt int) *river.Job[jobs.WebhookArgs] {
	return &river.Job[jobs.WebhookArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: jobs.WebhookMaxAttempts},
		Args: jobs.WebhookArgs{DeliveryID: id}}
}

// delivery records one delivery of a failed round to url.
func (b *bundle) delivery(t *testing.T, url string) (store.Webhook, int64) {
	t.Helper()
	hook, _, err := b.store.CreateWebhook(b.ctx, b.repo.ID, url, []string{store.WebhookFailed})
	require.NoError(t, err)
	var ids []int64
	b.store.EnqueueWebhooks = func(_ context.Context, _ pgx.Tx, got []int64) error { ids = got; return nil }
	require.NoError(t, b.store.FailRound(b.ctx, b.cutRound(t), store.CodeSignatureTimeout, "late"))
	require.Len(t, ids, 1)
	return hook, ids[0]
}

// lastDelivery is the recorded state of a webhook's newest delivery.
func (b *bundle) lastDelivery(t *testing.T, hook store.Webhook) store.WebhookDelivery {
	t.Helper()
	ds, err := b.store.WebhookDeliveries(b.ctx, b.repo.ID, hook.ID, 1)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	return ds[0]
}

// TestWebhookSendGuards replays what a hostile or broken receiver does: a
// loopback address without the operator's consent is never connected to;
// a redirect (to the cloud metadata address or anywhere) is not followed; a
// receiver that never answers is cut off at the timeout; a huge answer is
// kept truncated; the last attempt marks the delivery failed.
func TestWebhookSendGuards(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	// Cleanups run after the parallel subtests.
	t.Cleanup(func() { require.Zero(t, hits.Load(), "nothing reached the private target") })
	stall := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, target.URL+"/metadata", http.StatusFound)
		case "/stall":
			<-stall
		case "/huge":
			// Binary, invalid UTF-8 and a rune across the cut: stored all the same.
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "\x00\xff"+strings.Repeat("x", store.MaxResponseBody-3)+"€"+strings.Repeat("x", 10<<10))
		}
	}))
	t.Cleanup(func() { close(stall); recv.Close() })

	t.Run("private address refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		hook, id := b.delivery(t, target.URL+"/hook")
		err := NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: false, Timeout: time.Second}).Work(b.ctx, webhookJob(id, 1))
		require.ErrorContains(t, err, "refused")
		d := b.lastDelivery(t, hook)
		require.Equal(t, store.DeliveryPending, d.State)
		require.Contains(t, d.Error, "loopback")
	})
	t.Run("redirect not followed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		hook, id := b.delivery(t, recv.URL+"/redirect")
		require.Error(t, NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: true, Timeout: time.Second}).Work(b.ctx, webhookJob(id, 1)))
		require.Equal(t, http.StatusFound, b.lastDelivery(t, hook).ResponseStatus)
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		hook, id := b.delivery(t, recv.URL+"/stall")
		start := time.Now()
		require.Error(t, NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: true, Timeout: 300 * time.Millisecond}).Work(b.ctx, webhookJob(id, 1)))
		require.Less(t, time.Since(start), 5*time.Second)
		require.Contains(t, b.lastDelivery(t, hook).Error, "Timeout")
	})
	t.Run("huge answer truncated, last attempt failed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		hook, id := b.delivery(t, recv.URL+"/huge")
		require.Error(t, NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: true, Timeout: time.Second}).Work(b.ctx, webhookJob(id, jobs.WebhookMaxAttempts)))
		d := b.lastDelivery(t, hook)
		require.Equal(t, store.DeliveryFailed, d.State)
		require.Equal(t, http.StatusBadGateway, d.ResponseStatus)
		require.LessOrEqual(t, len(d.ResponseBody), store.MaxResponseBody)
		require.Greater(t, len(d.ResponseBody), store.MaxResponseBody-8)
		require.True(t, utf8.ValidString(d.ResponseBody))
		require.True(t, strings.HasPrefix(d.ResponseBody, "\uFFFD\uFFFDx"), "%q", d.ResponseBody[:8])
		require.Equal(t, 1, d.Attempts)
	})
	t.Run("removed webhook ends its job", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		hook, id := b.delivery(t, recv.URL+"/huge")
		require.NoError(t, b.store.DeleteWebhook(b.ctx, b.repo.ID, hook.ID))
		require.NoError(t, NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: true, Timeout: time.Second}).Work(b.ctx, webhookJob(id, 1)))
	})
}

// TestWebhookClientGone: changes that fail because their client vanished
// send a "failed" event too, before a round (no round, no generation) and
// out of an aborted round (the gone changes only).
func TestWebhookClientGone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook, _, err := b.store.CreateWebhook(b.ctx, b.repo.ID, "https://hooks.example.com/x", []string{store.WebhookFailed})
	require.NoError(t, err)
	var sent [][]int64
	b.store.EnqueueWebhooks = func(_ context.Context, _ pgx.Tx, ids []int64) error { sent = append(sent, ids); return nil }
	type event struct {
		Event   string
		RoundID *int64 `json:"round_id"`
		Error   struct{ Code string }
		Changes []struct{ ID int64 }
	}
	last := func() event {
		t.Helper()
		require.NotEmpty(t, sent)
		target, err := b.store.DeliveryTarget(b.ctx, sent[len(sent)-1][0])
		require.NoError(t, err)
		var e event
		require.NoError(t, json.Unmarshal(target.Payload, &e))
		return e
	}

	pending := b.addChange(t, "gone-pending")
	require.NoError(t, b.store.TouchClient(b.ctx, b.store.Pool, pending.ID, -time.Minute))
	require.NoError(t, b.store.DropGonePending(b.ctx, b.release.ID))
	e := last()
	require.Equal(t, "failed", e.Event)
	require.Nil(t, e.RoundID)
	require.Equal(t, store.CodeClientGone, e.Error.Code)
	require.Equal(t, []struct{ ID int64 }{{pending.ID}}, e.Changes)

	round := b.cutRound(t)
	var inRound int64
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT id FROM changes WHERE round_id = $1`, round.ID).Scan(&inRound))
	require.NoError(t, b.store.TouchClient(b.ctx, b.store.Pool, inRound, -time.Minute))
	aborted, _, err := b.store.DropGoneClients(b.ctx, round)
	require.NoError(t, err)
	require.True(t, aborted)
	e = last()
	require.Equal(t, round.ID, *e.RoundID)
	require.Equal(t, store.CodeClientGone, e.Error.Code)
	require.Equal(t, []struct{ ID int64 }{{inRound}}, e.Changes)
	require.Len(t, sent, 2)
	ds, err := b.store.WebhookDeliveries(b.ctx, b.repo.ID, hook.ID, 10)
	require.NoError(t, err)
	require.Len(t, ds, 2)
}

// TestWebhookDeliveriesForgotten: once a webhook has more than
// store.KeptDeliveries finished deliveries, an attempt forgets the oldest,
// never one still pending (its job would find nothing to send).
func TestWebhookDeliveriesForgotten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(recv.Close)
	hook, id := b.delivery(t, recv.URL)
	_, err := b.store.Pool.Exec(b.ctx, `
		INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, payload, state) OVERRIDING SYSTEM VALUE
		SELECT -i, $1, gen_random_uuid(), 'failed', '{}', CASE WHEN i = 600 THEN 'pending' ELSE 'delivered' END
		FROM generate_series(1, 600) AS i`, hook.ID) // older than the delivery, the oldest pending
	require.NoError(t, err)
	require.NoError(t, NewWebhookWorker(WebhookConfig{Store: b.store, AllowPrivate: true}).Work(b.ctx, webhookJob(id, 1)))
	var finished, pending int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT count(*) FILTER (WHERE state <> 'pending'),
		count(*) FILTER (WHERE state = 'pending') FROM webhook_deliveries WHERE webhook_id = $1`, hook.ID).Scan(&finished, &pending))
	require.Equal(t, store.KeptDeliveries, finished)
	require.Equal(t, 1, pending, "the old pending delivery stays")
	last := b.lastDelivery(t, hook)
	require.Equal(t, id, last.ID)
	require.Equal(t, store.DeliveryDelivered, last.State)
}

// TestWebhookPublishedOnce: a published round sends one "published" event
// with its generation; recording the publication again (an upload retried
// after the round was marked) sends nothing more.
func TestWebhookPublishedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, err := b.store.CreateWebhook(b.ctx, b.repo.ID, "https://hooks.example.com/x", []string{store.WebhookPublished})
	require.NoError(t, err)
	var sent []int64
	b.store.EnqueueWebhooks = func(_ context.Context, _ pgx.Tx, ids []int64) error { sent = append(sent, ids...); return nil }
	round := b.publish(t, b.worker("w"), "first")
	require.Len(t, sent, 1)
	require.NoError(t, b.store.PublishRound(b.ctx, round, "\"etag\""))
	require.Len(t, sent, 1)
	target, err := b.store.DeliveryTarget(b.ctx, sent[0])
	require.NoError(t, err)
	var event struct {
		Event      string
		Generation int64
		Changes    []struct{ Adds []struct{ Name string } }
	}
	require.NoError(t, json.Unmarshal(target.Payload, &event))
	require.Equal(t, "published", event.Event)
	require.Equal(t, round.Generation, event.Generation)
	require.Len(t, event.Changes, 1)
	require.Len(t, event.Changes[0].Adds, 1)
	require.True(t, strings.HasPrefix(event.Changes[0].Adds[0].Name, "first"))
}
