package wire

// Health is GET /healthz: the process is up.
type Health struct {
	Status string `json:"status"`
}

// Readiness is GET /readyz: "ok" or "unreachable" for each dependency
// (503 unless both are ok).
type Readiness struct {
	Postgres string `json:"postgres"`
	S3       string `json:"s3"`
}
