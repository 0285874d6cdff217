package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event kinds of a job's timeline.
const (
	EventEnqueued  = "enqueued"
	EventRoundCut  = "round_cut"
	EventSigned    = "signature_accepted"
	EventCommitted = "committed"
	EventUploaded  = "uploaded" // a step of the upload: pool files, flat indexes, then Release and Release.gpg
	EventPublished = "published"
	EventFailed    = "failed"
	EventCancelled = "cancelled"
	EventRequeued  = "requeued"
	// EventRetention lists what the release's retention removed in the
	// round, committed with it.
	EventRetention = "retention"
)

// Event is one step of a job's timeline.
type Event struct {
	Kind   string
	Detail map[string]any
	At     time.Time
}

// changeEvent records an event of one change.
func changeEvent(ctx context.Context, db DBTX, changeID int64, kind string, detail map[string]any) error {
	d, _ := json.Marshal(detail)
	_, err := db.Exec(ctx, `INSERT INTO job_events (change_id, kind, detail) VALUES ($1, $2, $3)`, changeID, kind, d)
	return translate("record "+kind, err)
}

// roundEvent records an event for every change of a round still riding it.
func roundEvent(ctx context.Context, db DBTX, roundID int64, kind string, detail map[string]any) error {
	d, _ := json.Marshal(detail)
	_, err := db.Exec(ctx, `INSERT INTO job_events (change_id, kind, detail)
		SELECT id, $2, $3 FROM changes WHERE round_id = $1 ORDER BY id`, roundID, kind, d)
	return translate("record "+kind, err)
}

// RoundUploadStep records a step of a committed round's upload in the
// timeline of each of its changes.
func (s *Store) RoundUploadStep(ctx context.Context, roundID int64, step string, detail map[string]any) error {
	d := map[string]any{"round_id": roundID, "step": step}
	for k, v := range detail {
		d[k] = v
	}
	return roundEvent(ctx, s.Pool, roundID, EventUploaded, d)
}

// roundEventStmt is roundEvent as a statement of an atomic write.
func roundEventStmt(roundID int64, kind string, detail map[string]any) statement {
	d, _ := json.Marshal(detail)
	return stmt("record "+kind, `INSERT INTO job_events (change_id, kind, detail)
		SELECT id, $2, $3 FROM changes WHERE round_id = $1 ORDER BY id`, roundID, kind, d)
}

// Timeline returns a change's events in order.
func (s *Store) Timeline(ctx context.Context, changeID int64) ([]Event, error) {
	rows, err := s.Pool.Query(ctx, `SELECT kind, detail, at FROM job_events WHERE change_id = $1 ORDER BY id`, changeID)
	if err != nil {
		return nil, translate("timeline", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var d []byte
		if err := row.Scan(&e.Kind, &d, &e.At); err != nil {
			return e, err
		}
		return e, json.Unmarshal(d, &e.Detail)
	})
	return out, translate("timeline", err)
}
