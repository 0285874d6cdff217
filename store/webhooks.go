package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Webhook events: a round reached S3, or a round failed.
const (
	WebhookPublished = "published"
	WebhookFailed    = "failed"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// MaxWebhooks bounds a repository's webhooks: each event is sent to each.
const MaxWebhooks = 10

// MaxResponseBody is how much of a receiver's answer a delivery keeps.
const MaxResponseBody = 4 << 10

// KeptDeliveries is how many of a webhook's newest deliveries are kept once
// finished: the history "aptq webhook deliveries" shows.
const KeptDeliveries = 500

// WebhookEnqueuer enqueues the jobs that send deliveries, inside the
// transaction that records them (River's InsertTx): an event is sent if and
// only if the transaction that makes it happen commits.
type WebhookEnqueuer func(ctx context.Context, tx pgx.Tx, deliveryIDs []int64) error

// Webhook is where a repository's events are POSTed. Its secret is never
// read back through the API: only WebhookDelivery returns it, to sign.
type Webhook struct {
	ID           int64
	RepositoryID int64
	URL          string
	Events       []string
	CreatedAt    time.Time
}

// WebhookDelivery is one event sent (or being sent) to one webhook.
type WebhookDelivery struct {
	ID             int64
	WebhookID      int64
	EventID        string
	Event          string
	State          string
	Attempts       int
	ResponseStatus int
	ResponseBody   string
	Error          string
	CreatedAt      time.Time
	AttemptedAt    *time.Time
}

// DeliveryTarget is what the worker needs to send a delivery.
type DeliveryTarget struct {
	URL     string
	Secret  string
	EventID string
	Event   string
	Payload []byte
}

// CreateWebhook adds a webhook to a repository and returns it with its
// secret, which is shown this once. The context's actor is recorded.
func (s *Store) CreateWebhook(ctx context.Context, repositoryID int64, url string, events []string) (Webhook, string, error) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	secret := "whsec_" + hex.EncodeToString(b[:])
	w := Webhook{RepositoryID: repositoryID, URL: url, Events: events}
	var token *int64
	if actor, ok := ActorFrom(ctx); ok && actor.TokenID != 0 {
		token = &actor.TokenID
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var n int
		// The repository's row lock orders concurrent adds, so the cap holds.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE repository_id =
			(SELECT id FROM repositories WHERE id = $1 FOR UPDATE)`, repositoryID).Scan(&n); err != nil {
			return translate("count webhooks", err)
		}
		if n >= MaxWebhooks {
			e := Errorf(CodeQuotaExceeded, "a repository has at most %d webhooks", MaxWebhooks)
			e.Details = map[string]any{"limit": MaxWebhooks}
			return e
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO webhooks (repository_id, url, secret, events, token_id) VALUES ($1, $2, $3, $4, $5)
			RETURNING id, created_at`, repositoryID, url, secret, events, token).Scan(&w.ID, &w.CreatedAt)
		if err != nil {
			return translate("add webhook", err)
		}
		return webhookAudit(ctx, tx, "webhook.add", w)
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

func webhookAudit(ctx context.Context, tx pgx.Tx, action string, w Webhook) error {
	repo, err := repositoryName(ctx, tx, w.RepositoryID)
	if err != nil {
		return err
	}
	return audit(ctx, tx, action, repo, map[string]any{"webhook_id": w.ID, "url": w.URL})
}

// Webhooks lists a repository's webhooks.
func (s *Store) Webhooks(ctx context.Context, repositoryID int64) ([]Webhook, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, repository_id, url, events, created_at FROM webhooks WHERE repository_id = $1 ORDER BY id`, repositoryID)
	if err != nil {
		return nil, translate("list webhooks", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Webhook, error) {
		var w Webhook
		err := row.Scan(&w.ID, &w.RepositoryID, &w.URL, &w.Events, &w.CreatedAt)
		return w, err
	})
	return out, translate("list webhooks", err)
}

// DeleteWebhook removes a repository's webhook and its deliveries; jobs
// still queued for them find nothing and end.
func (s *Store) DeleteWebhook(ctx context.Context, repositoryID, id int64) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		w := Webhook{ID: id, RepositoryID: repositoryID}
		err := tx.QueryRow(ctx, `DELETE FROM webhooks WHERE id = $1 AND repository_id = $2 RETURNING url`,
			id, repositoryID).Scan(&w.URL)
		if err != nil {
			return translate(fmt.Sprintf("webhook %d", id), err)
		}
		return webhookAudit(ctx, tx, "webhook.remove", w)
	})
}

// WebhookDeliveries lists a repository webhook's most recent deliveries,
// newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, repositoryID, webhookID int64, limit int) ([]WebhookDelivery, error) {
	var exists bool
	if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1 AND repository_id = $2)`,
		webhookID, repositoryID).Scan(&exists); err != nil {
		return nil, translate("find webhook", err)
	}
	if !exists {
		return nil, Errorf(CodeNotFound, "webhook %d: not found", webhookID)
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, webhook_id, event_id::text, event, state, attempts, coalesce(response_status, 0),
			coalesce(response_body, ''), coalesce(error, ''), created_at, attempted_at
		FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`, webhookID, limit)
	if err != nil {
		return nil, translate("list deliveries", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WebhookDelivery, error) {
		var d WebhookDelivery
		err := row.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Event, &d.State, &d.Attempts, &d.ResponseStatus,
			&d.ResponseBody, &d.Error, &d.CreatedAt, &d.AttemptedAt)
		return d, err
	})
	return out, translate("list deliveries", err)
}

// DeliveryTarget returns what sending a delivery needs; ErrNotFound when
// its webhook was removed meanwhile.
func (s *Store) DeliveryTarget(ctx context.Context, deliveryID int64) (DeliveryTarget, error) {
	var t DeliveryTarget
	err := s.Pool.QueryRow(ctx, `
		SELECT w.url, w.secret, d.event_id::text, d.event, d.payload::text
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1`, deliveryID).
		Scan(&t.URL, &t.Secret, &t.EventID, &t.Event, &t.Payload)
	return t, translate(fmt.Sprintf("delivery %d", deliveryID), err)
}

// RecordDeliveryAttempt records an attempt's outcome: the receiver's status
// and body (cut to MaxResponseBody bytes), or the error that stopped it. It
// also forgets the webhook's finished deliveries beyond the newest
// KeptDeliveries, so that the table does not grow with every publish.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, deliveryID int64, state string, status int, body, errMsg string) error {
	body = storableText(body, MaxResponseBody)
	errMsg = storableText(errMsg, MaxResponseBody)
	var st *int
	if status != 0 {
		st = &status
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		return atomic(ctx, tx, []statement{stmt("record delivery attempt", `
		UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, response_status = $3,
			response_body = $4, error = nullif($5, ''), attempted_at = now()
		WHERE id = $1`, deliveryID, state, st, body, errMsg),
			stmt("forget old deliveries", `
		DELETE FROM webhook_deliveries d USING webhook_deliveries this
		WHERE this.id = $1 AND d.webhook_id = this.webhook_id AND d.state <> 'pending' AND d.id < (
			SELECT id FROM webhook_deliveries WHERE webhook_id = this.webhook_id
			ORDER BY id DESC OFFSET $2 - 1 LIMIT 1)`, deliveryID, KeptDeliveries)})
	})
}

// storableText makes a receiver's answer fit a text column: at most max
// bytes, cut on a rune boundary, valid UTF-8 and without NUL, which
// Postgres refuses (a binary or hostile answer would otherwise never be
// recorded).
func storableText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// roundWebhooks records the webhook deliveries of a round's event: its
// changes are those the round holds.
func (s *Store) roundWebhooks(ctx context.Context, tx pgx.Tx, event string, r Round) error {
	return s.webhookEvent(ctx, tx, event, r.ReleaseID, &r.ID, nil)
}

// webhookEvent records, inside the transaction that makes the event happen,
// one delivery of it per subscribed webhook of the release's repository,
// and enqueues their jobs. The event's changes are the round's (roundID) or,
// for changes that failed outside a round, changeIDs. Without an enqueuer
// (a store that sends no webhooks) it records nothing.
func (s *Store) webhookEvent(ctx context.Context, tx pgx.Tx, event string, releaseID int64, roundID *int64, changeIDs []int64) error {
	if s.EnqueueWebhooks == nil {
		return nil
	}
	rows, err := tx.Query(ctx, `
		WITH ch AS (
			SELECT * FROM changes WHERE CASE WHEN $3::bigint IS NULL THEN id = ANY ($4) ELSE round_id = $3 END),
		ev AS (
			SELECT gen_random_uuid() AS id, rl.repository_id, jsonb_build_object(
				'event', $2::text, 'tenant', t.name, 'repo', rp.name, 'release', rl.name,
				'round_id', r.id, 'generation', r.generation,
				'error', CASE WHEN $2 = 'failed' THEN jsonb_build_object(
					'code', coalesce(r.error_code, e.error_code), 'message', coalesce(r.error_message, e.error_message)) END,
				'changes', coalesce((SELECT jsonb_agg(jsonb_build_object(
					'id', c.id, 'job_id', c.job_id,
					'submitter', (SELECT k.name FROM api_tokens k WHERE k.id = c.token_id),
					'adds', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'version', p.version,
							'architecture', p.architecture, 'component', a.component) ORDER BY p.name, p.version), '[]')
						FROM jsonb_to_recordset(c.adds) AS a(package_id bigint, component text)
						JOIN packages p ON p.id = a.package_id),
					'removes', c.removes) ORDER BY c.id) FROM ch c), '[]')) AS body
			FROM releases rl JOIN repositories rp ON rp.id = rl.repository_id JOIN tenants t ON t.id = rp.tenant_id
			LEFT JOIN rounds r ON r.id = $3
			LEFT JOIN LATERAL (SELECT error_code, error_message FROM ch
				WHERE error_code IS NOT NULL ORDER BY id LIMIT 1) e ON true
			-- Filtered before the payload is built: a publish to a repository
			-- without webhooks pays for this one index lookup only.
			WHERE rl.id = $1 AND EXISTS (SELECT 1 FROM webhooks w
				WHERE w.repository_id = rl.repository_id AND $2 = ANY (w.events)))
		INSERT INTO webhook_deliveries (webhook_id, event_id, event, payload)
		SELECT w.id, ev.id, $2, ev.body || jsonb_build_object('id', ev.id, 'occurred_at', now())
		FROM ev JOIN webhooks w ON w.repository_id = ev.repository_id AND $2 = ANY (w.events)
		ORDER BY w.id
		RETURNING id`, releaseID, event, roundID, changeIDs)
	if err != nil {
		return translate("record webhook deliveries", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return translate("record webhook deliveries", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if err := s.EnqueueWebhooks(ctx, tx, ids); err != nil {
		return fmt.Errorf("enqueue webhook deliveries: %w", err)
	}
	return nil
}

// PublicAddr says whether a webhook may reach addr unless the operator
// allows private addresses: not loopback, private, link-local (cloud
// metadata at 169.254.169.254), unspecified, multicast or shared
// (100.64.0.0/10). The API checks a URL's literal address with it, and the
// worker every address it dials.
func PublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsValid() && !addr.IsLoopback() && !addr.IsPrivate() && !addr.IsLinkLocalUnicast() &&
		!addr.IsLinkLocalMulticast() && !addr.IsUnspecified() && !addr.IsMulticast() &&
		!sharedAddressSpace.Contains(addr)
}

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
