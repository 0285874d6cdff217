package wire

// PlanItem is one package a copy, removal or prune adds (Op "+") or
// removes ("-").
type PlanItem struct {
	Op           string `json:"op"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

// Plan is what a copy, removal or prune changes. Without dry_run and with
// something to change, JobID and ChangeID name the change submitted (202);
// otherwise they are null: nothing was submitted (200).
type Plan struct {
	DryRun   bool       `json:"dry_run"`
	JobID    *int64     `json:"job_id"`
	ChangeID *int64     `json:"change_id"`
	Items    []PlanItem `json:"plan"`
	// Unchanged counts packages the specs select that are already as asked
	// (a copy of what the target has).
	Unchanged int `json:"unchanged"`
}

// Ref is the submitted change, if any.
func (p Plan) Ref() (JobRef, bool) {
	if p.JobID == nil || p.ChangeID == nil {
		return JobRef{}, false
	}
	return JobRef{JobID: *p.JobID, ChangeID: *p.ChangeID}, true
}

// CopyRequest copies packages of release FromRelease (FromComponent: all
// components when empty) into another release of the same repository, into
// Component (each package's own when empty). Specs are NAME, NAME=VERSION
// or NAME=VERSION:ARCH; All copies everything instead.
type CopyRequest struct {
	FromRelease   string   `json:"from_release"`
	FromComponent string   `json:"from_component,omitempty"`
	Component     string   `json:"component,omitempty"`
	Specs         []string `json:"specs,omitempty"`
	All           bool     `json:"all,omitempty"`
	IgnoreMissing bool     `json:"ignore_missing,omitempty"`
	DryRun        bool     `json:"dry_run,omitempty"`
}

// RemovalRequest removes what Specs select from Component.
type RemovalRequest struct {
	Component     string   `json:"component"`
	Specs         []string `json:"specs"`
	IgnoreMissing bool     `json:"ignore_missing,omitempty"`
	DryRun        bool     `json:"dry_run,omitempty"`
}

// PruneRequest removes, once, all but the Keep newest versions of each
// package name and architecture (in Component, or all components when
// empty).
type PruneRequest struct {
	Keep      int    `json:"keep"`
	Component string `json:"component,omitempty"`
	DryRun    bool   `json:"dry_run,omitempty"`
}
