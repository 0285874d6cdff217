package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// maxWebhookURL bounds a webhook URL (the column's check repeats it).
const maxWebhookURL = 2048

// webhookDeliveriesShown is how many recent deliveries a listing shows.
const webhookDeliveriesShown = 50

func (s *Server) createWebhook(c echo.Context) error {
	var req wire.WebhookCreate
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := checkWebhookURL(req.URL, s.cfg.WebhookAllowPrivate); err != nil {
		return err
	}
	events, err := webhookEvents(req.Events)
	if err != nil {
		return err
	}
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	w, secret, err := s.store.CreateWebhook(c.Request().Context(), repo.ID, req.URL, events)
	if err != nil {
		return err
	}
	out := webhookWire(w)
	out.Secret = secret
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listWebhooks(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	hooks, err := s.store.Webhooks(c.Request().Context(), repo.ID)
	if err != nil {
		return err
	}
	out := wire.WebhookList{Webhooks: make([]wire.Webhook, 0, len(hooks))}
	for _, w := range hooks {
		out.Webhooks = append(out.Webhooks, webhookWire(w))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) removeWebhook(c echo.Context) error {
	repoID, id, err := s.webhookFromPath(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(c.Request().Context(), repoID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listWebhookDeliveries(c echo.Context) error {
	repoID, id, err := s.webhookFromPath(c)
	if err != nil {
		return err
	}
	ds, err := s.store.WebhookDeliveries(c.Request().Context(), repoID, id, webhookDeliveriesShown)
	if err != nil {
		return err
	}
	out := wire.WebhookDeliveryList{Deliveries: make([]wire.WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, wire.WebhookDelivery{ID: d.ID, EventID: d.EventID, Event: d.Event,
			State: d.State, Attempts: d.Attempts, ResponseStatus: d.ResponseStatus, ResponseBody: d.ResponseBody,
			Error: d.Error, CreatedAt: d.CreatedAt, AttemptedAt: d.AttemptedAt})
	}
	return c.JSON(http.StatusOK, out)
}

func webhookWire(w store.Webhook) wire.Webhook {
	return wire.Webhook{ID: w.ID, URL: w.URL, Events: w.Events, CreatedAt: w.CreatedAt}
}

func webhookID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("webhook id %q is not a positive number", c.Param("id"))
	}
	return id, nil
}

// webhookEvents checks the events asked for; none means every one.
func webhookEvents(events []string) ([]string, error) {
	all := []string{store.WebhookPublished, store.WebhookFailed}
	if len(events) == 0 {
		return all, nil
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(all, e) {
			return nil, invalidWebhook("events", "unknown_event", "unknown event %q: the events are published and failed", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// checkWebhookURL accepts an absolute http or https URL without
// credentials. Unless allowPrivate, it refuses a host that is a loopback,
// private or link-local address or localhost: the worker's dialer refuses
// such addresses again after resolving a name, so this is the early,
// clear answer, not the only guard.
func checkWebhookURL(raw string, allowPrivate bool) error {
	if len(raw) > maxWebhookURL {
		return invalidWebhook("url", "too_long", "the URL is longer than %d bytes", maxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return invalidWebhook("url", "unparsable", "the URL does not parse as scheme://host/path")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalidWebhook("url", "scheme", "the URL's scheme must be http or https, not %q", u.Scheme)
	}
	if u.User != nil {
		return invalidWebhook("url", "credentials", "the URL must not hold credentials: the signature authenticates aptq")
	}
	host := u.Hostname()
	if host == "" || strings.ContainsAny(host, " \t\r\n%") {
		return invalidWebhook("url", "host", "the URL has no valid host")
	}
	if allowPrivate {
		return nil
	}
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		return invalidWebhook("url", "private_address", "the URL names this machine (localhost)")
	}
	if addr, err := netip.ParseAddr(host); err == nil && !store.PublicAddr(addr) {
		return invalidWebhook("url", "private_address",
			"the URL's address %s is loopback, private or link-local; the operator may allow such addresses (APTQ_WEBHOOK_ALLOW_PRIVATE=1)", addr)
	}
	return nil
}

func invalidWebhook(field, reason, format string, args ...any) error {
	e := store.Errorf(store.CodeInvalid, format, args...)
	e.Details = map[string]any{"field": field, "reason": reason}
	return e
}

// webhookFromPath reads the repository and the webhook id of the path;
// whether the webhook is the repository's is the store's to say.
func (s *Server) webhookFromPath(c echo.Context) (repoID, id int64, err error) {
	if id, err = webhookID(c); err != nil {
		return 0, 0, err
	}
	repo, err := s.repoFromPath(c)
	if err != nil {
		return 0, 0, err
	}
	return repo.ID, id, nil
}
