package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// Webhook request headers (docs/api.md, Webhooks, says how to verify them).
const (
	HeaderWebhookEvent     = "X-Aptq-Event"
	HeaderWebhookDelivery  = "X-Aptq-Delivery"
	HeaderWebhookTimestamp = "X-Aptq-Timestamp"
	HeaderWebhookSignature = "X-Aptq-Signature"
)

// DefaultWebhookTimeout bounds one delivery attempt, answer included.
const DefaultWebhookTimeout = 10 * time.Second

// WebhookEnqueuer returns the store's hook that enqueues delivery jobs with
// InsertTx, in the transaction that records the event.
func WebhookEnqueuer(client *river.Client[pgx.Tx]) store.WebhookEnqueuer {
	return func(ctx context.Context, tx pgx.Tx, ids []int64) error {
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: jobs.WebhookArgs{DeliveryID: id}}
		}
		_, err := client.InsertManyTx(ctx, tx, params)
		return err
	}
}

// WebhookWorker sends one delivery per job: a failed attempt returns an
// error, and River retries it with backoff up to jobs.WebhookMaxAttempts.
type WebhookWorker struct {
	river.WorkerDefaults[jobs.WebhookArgs]
	store   *store.Store
	metrics *metrics.Metrics
	client  *http.Client
}

// WebhookConfig wires the delivery worker.
type WebhookConfig struct {
	Store *store.Store
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses; off, such addresses are refused on every address dialled,
	// so a name that resolves to 169.254.169.254 or 10.x is refused too.
	AllowPrivate bool
	// Timeout bounds an attempt, answer included (DefaultWebhookTimeout).
	Timeout time.Duration
	// Metrics counts attempts; nil counts nothing.
	Metrics *metrics.Metrics
}

// NewWebhookWorker returns the delivery worker. It never follows a
// redirect: the answer is recorded as the receiver's.
func NewWebhookWorker(cfg WebhookConfig) *WebhookWorker {
	timeout := cmp.Or(cfg.Timeout, DefaultWebhookTimeout)
	dialer := &net.Dialer{Timeout: timeout}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 2,
		IdleConnTimeout: 30 * time.Second, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout}
	return &WebhookWorker{store: cfg.Store, metrics: cfg.Metrics, client: &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// errPrivateAddress refuses a connection to an address inside the network.
var errPrivateAddress = errors.New("refused: the address is loopback, private or link-local (set APTQ_WEBHOOK_ALLOW_PRIVATE=1 to allow)")

// refusePrivate is the dialer's check of the resolved address it connects to.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook address %q: %w", address, err)
	}
	if !store.PublicAddr(ap.Addr()) {
		return errPrivateAddress
	}
	return nil
}

// Work sends the delivery and records the attempt.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[jobs.WebhookArgs]) error {
	target, err := w.store.DeliveryTarget(ctx, job.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // its webhook was removed
	}
	if err != nil {
		return err
	}
	status, body, sendErr := w.send(ctx, target, time.Now())
	w.metrics.WebhookAttempt(sendErr == nil)
	state := store.DeliveryDelivered
	if sendErr != nil {
		state = store.DeliveryPending
		if job.Attempt >= job.MaxAttempts {
			state = store.DeliveryFailed
		}
	}
	errMsg := ""
	if sendErr != nil {
		errMsg = sendErr.Error()
	}
	if err := w.store.RecordDeliveryAttempt(ctx, job.Args.DeliveryID, state, status, body, errMsg); err != nil {
		return err
	}
	return sendErr
}

// send POSTs the payload signed; a status outside 2xx is an error.
func (w *WebhookWorker) send(ctx context.Context, t store.DeliveryTarget, now time.Time) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(t.Payload))
	if err != nil {
		return 0, "", fmt.Errorf("webhook request: %w", err)
	}
	timestamp := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aptq-webhook")
	req.Header.Set(HeaderWebhookEvent, t.Event)
	req.Header.Set(HeaderWebhookDelivery, t.EventID)
	req.Header.Set(HeaderWebhookTimestamp, timestamp)
	req.Header.Set(HeaderWebhookSignature, "sha256="+WebhookSignature(t.Secret, timestamp, t.Payload))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, store.MaxResponseBody))
	if err != nil {
		return resp.StatusCode, string(body), fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, string(body), fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return resp.StatusCode, string(body), nil
}

// WebhookSignature is the hex HMAC-SHA256, keyed with the webhook's secret,
// of the timestamp, a dot and the body: what X-Aptq-Signature carries
// after "sha256=".
func WebhookSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
