package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/aptq/aptq/wire"
)

func webhookPath(repo string, id int64) string {
	return repoPath(repo) + "/webhooks/" + strconv.FormatInt(id, 10)
}

// AddWebhook adds a webhook to a repository; the answer holds its secret,
// which the server never shows again.
func (c *Client) AddWebhook(ctx context.Context, repo string, req wire.WebhookCreate) (wire.Webhook, error) {
	var w wire.Webhook
	err := c.doJSON(ctx, http.MethodPost, repoPath(repo)+"/webhooks", req, &w)
	return w, err
}

// ListWebhooks lists a repository's webhooks (without their secrets).
func (c *Client) ListWebhooks(ctx context.Context, repo string) ([]wire.Webhook, error) {
	var out wire.WebhookList
	err := c.doJSON(ctx, http.MethodGet, repoPath(repo)+"/webhooks", nil, &out)
	return out.Webhooks, err
}

// RemoveWebhook removes a repository's webhook.
func (c *Client) RemoveWebhook(ctx context.Context, repo string, id int64) error {
	return c.doJSON(ctx, http.MethodDelete, webhookPath(repo, id), nil, nil)
}

// WebhookDeliveries lists a webhook's recent deliveries, newest first.
func (c *Client) WebhookDeliveries(ctx context.Context, repo string, id int64) ([]wire.WebhookDelivery, error) {
	var out wire.WebhookDeliveryList
	err := c.doJSON(ctx, http.MethodGet, webhookPath(repo, id)+"/deliveries", nil, &out)
	return out.Deliveries, err
}
