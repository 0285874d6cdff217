package wire

import "time"

// WebhookCreate is the body of POST /v1/repos/{repo}/webhooks.
type WebhookCreate struct {
	URL string `json:"url"`
	// Events to send: "published", "failed"; empty means both.
	Events []string `json:"events,omitempty"`
}

// Webhook is a repository's webhook. Secret is set only in the answer to
// its creation: it is never shown again.
type Webhook struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookList is the answer of GET /v1/repos/{repo}/webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// WebhookDelivery is one event sent to a webhook, with the last attempt's
// outcome: the receiver's status and body (at most 4 KiB), or the error.
type WebhookDelivery struct {
	ID             int64      `json:"id"`
	EventID        string     `json:"event_id"`
	Event          string     `json:"event"`
	State          string     `json:"state"`
	Attempts       int        `json:"attempts"`
	ResponseStatus int        `json:"response_status,omitempty"`
	ResponseBody   string     `json:"response_body,omitempty"`
	Error          string     `json:"error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	AttemptedAt    *time.Time `json:"attempted_at,omitempty"`
}

// WebhookDeliveryList is the answer of
// GET /v1/repos/{repo}/webhooks/{id}/deliveries, newest first.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
}
