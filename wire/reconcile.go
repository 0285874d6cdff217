package wire

import "time"

// Repair is one object a reconcile found wrong and what it did about it.
type Repair struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
	Action  string `json:"action"`
}

// ReconcileReport is what a reconcile of a release found.
type ReconcileReport struct {
	ID         int64     `json:"id"`
	JobID      *int64    `json:"job_id,omitempty"`
	Generation int64     `json:"generation"`
	Checked    int       `json:"checked"`
	Repairs    []Repair  `json:"repairs"`
	Outcome    string    `json:"outcome"`
	CreatedAt  time.Time `json:"created_at"`
}

// ReconcileReports is a release's latest reconcile reports, newest first.
type ReconcileReports struct {
	Reports []ReconcileReport `json:"reports"`
}
