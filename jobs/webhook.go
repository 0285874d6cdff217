package jobs

import "github.com/riverqueue/river"

// WebhookQueue sends webhook deliveries, apart from publishes: a receiver
// that is slow or down holds only this queue's workers.
const WebhookQueue = "webhooks"

// WebhookMaxAttempts bounds the tries of one delivery: with River's
// backoff (attempt⁴ seconds) the last comes about half a day after the first.
const WebhookMaxAttempts = 12

// WebhookArgs sends one recorded delivery (store.WebhookDelivery).
type WebhookArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is River's name for the job kind.
func (WebhookArgs) Kind() string { return "webhook" }

// InsertOpts runs deliveries on the webhook queue, retried with backoff.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: WebhookMaxAttempts}
}
