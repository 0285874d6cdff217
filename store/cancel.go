package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// CancelReason is why a client withdrew its change, e.g. the server refused
// its signature: the job then shows that failure, not just "cancelled". The
// zero value is a plain cancel.
type CancelReason struct {
	Code    string
	Message string
}

// CancelJob cancels the tenant's change carried by a job, if it is not
// committed yet. A pending change is simply cancelled. A change already in a
// round that awaits (or holds) a signature aborts that round: the round
// fails, this change is cancelled and the round's other changes go back to
// pending, so the next round publishes them without it. A committed change
// cannot be cancelled: it will be published (CodeConflict).
func (s *Store) CancelJob(ctx context.Context, tenantID, jobID int64, reason CancelReason) error {
	code, message := "cancelled", "cancelled by the client"
	if reason.Code != "" {
		code, message = reason.Code, message+": "+reason.Message
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var changeID, releaseID int64
		var state string
		var roundID *int64
		err := tx.QueryRow(ctx, `
			SELECT c.id, c.release_id, c.state, c.round_id
			FROM changes c
			JOIN releases rel ON rel.id = c.release_id
			JOIN repositories repo ON repo.id = rel.repository_id
			WHERE c.job_id = $1 AND repo.tenant_id = $2
			FOR UPDATE OF c`, jobID, tenantID).Scan(&changeID, &releaseID, &state, &roundID)
		if err != nil {
			return translate("job", err)
		}
		switch state {
		case ChangeCancelled, ChangeFailed:
			return nil
		case ChangePublished:
			return Errorf(CodeConflict, "job %d is already published", jobID)
		case ChangeInRound:
			if err := abortRound(ctx, tx, *roundID, []int64{changeID}, "aborted",
				"a change of the round was cancelled; its other changes go to the next round"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'cancelled', error_code = $2,
				error_message = $3, round_id = NULL, updated_at = now()
			WHERE id = $1`, changeID, code, message); err != nil {
			return translate("cancel change", err)
		}
		detail := map[string]any{"by": "client"}
		if reason.Code != "" {
			detail["code"], detail["message"] = reason.Code, reason.Message
		}
		if err := changeEvent(ctx, tx, changeID, EventCancelled, detail); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, releaseID)
	})
}

// abortRound fails an uncommitted round because some of its changes
// (leaving) leave it, and returns its other changes to pending so that the
// next round publishes them. code and message say why, on the round.
func abortRound(ctx context.Context, tx pgx.Tx, roundID int64, leaving []int64, code, message string) error {
	var state string
	if err := tx.QueryRow(ctx, `SELECT state FROM rounds WHERE id = $1 FOR UPDATE`, roundID).Scan(&state); err != nil {
		return translate("lock round", err)
	}
	if state != RoundAwaitingSignature && state != RoundSigned {
		return Errorf(CodeConflict, "the change is already committed in round %d and will be published", roundID)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE rounds SET state = 'failed', error_code = $2, error_message = $3
		WHERE id = $1`, roundID, code, message); err != nil {
		return translate("abort round", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO job_events (change_id, kind, detail)
		SELECT id, $3, jsonb_build_object('round_id', $1::bigint, 'reason', $4::text)
		FROM changes WHERE round_id = $1 AND id <> ALL($2) AND state = 'in_round' ORDER BY id`,
		roundID, leaving, EventRequeued, message); err != nil {
		return translate("record requeue", err)
	}
	_, err := tx.Exec(ctx, `
		UPDATE changes SET state = 'pending', round_id = NULL, updated_at = now()
		WHERE round_id = $1 AND id <> ALL($2) AND state = 'in_round'`, roundID, leaving)
	return translate("return changes to pending", err)
}

// StalledReleases lists releases that have unfinished changes but no live
// lease: their leader died, and a job must resume them.
func (s *Store) StalledReleases(ctx context.Context) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT DISTINCT c.release_id FROM changes c
		WHERE c.state IN ('pending', 'in_round') AND c.updated_at < now() - interval '10 seconds'
		  AND NOT EXISTS (SELECT 1 FROM release_leases l WHERE l.release_id = c.release_id AND l.expires_at > now())`)
	if err != nil {
		return nil, translate("stalled releases", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, translate("stalled releases", err)
}
