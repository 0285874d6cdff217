package metrics

import "github.com/prometheus/client_golang/prometheus"

func newWebhookAttempts() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aptq_webhook_attempts_total",
		Help: "Webhook delivery attempts, by result: delivered (2xx) or error (another status, a refused address, a timeout).",
	}, []string{"result"})
	v.WithLabelValues("delivered")
	v.WithLabelValues("error")
	return v
}

// WebhookAttempt counts a delivery attempt.
func (m *Metrics) WebhookAttempt(delivered bool) {
	if m == nil {
		return
	}
	result := "error"
	if delivered {
		result = "delivered"
	}
	m.webhookAttempts.WithLabelValues(result).Inc()
}
