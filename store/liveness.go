package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A change's client is whoever long-polls its job: the CLI that submitted it
// signs its round. Without liveness, a client that vanished (killed runner,
// frozen process, a retried job nobody follows) would hold its round, and
// every other publisher of the release, until the signature timeout.

// TouchClient records that the change's client is present for the next d:
// while it waits in a long poll, for the poll's length plus a grace; once the
// poll is answered, for the grace alone. A finished change is left alone.
func (s *Store) TouchClient(ctx context.Context, db DBTX, changeID int64, d time.Duration) error {
	_, err := db.Exec(ctx, `
		UPDATE changes SET client_seen_until = now() + $2 * interval '1 microsecond'
		WHERE id = $1 AND state IN ('pending', 'in_round')`, changeID, d.Microseconds())
	return translate("record client poll", err)
}

// goneMessage is the reason a change whose client vanished fails with.
const goneMessage = "its client stopped following the job (no long poll within the grace period); " +
	"submit it again, e.g. with aptq job retry"

// DropGonePending fails the release's pending changes whose client is gone,
// so that no round is cut for a change nobody will sign.
func (s *Store) DropGonePending(ctx context.Context, releaseID int64) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH gone AS (
				UPDATE changes SET state = 'failed', error_code = $2, error_message = $3, updated_at = now()
				WHERE release_id = $1 AND state = 'pending' AND client_seen_until < now()
				RETURNING id),
			logged AS (
				INSERT INTO job_events (change_id, kind, detail)
				SELECT id, $4, jsonb_build_object('code', $2::text, 'message', $3::text) FROM gone ORDER BY id)
			SELECT id FROM gone ORDER BY id`,
			releaseID, CodeClientGone, goneMessage, EventFailed)
		if err != nil {
			return translate("fail changes of gone clients", err)
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(gone) == 0 {
			return translate("fail changes of gone clients", err)
		}
		if err := s.webhookEvent(ctx, tx, WebhookFailed, releaseID, nil, gone); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, releaseID)
	})
}

// DropGoneClients checks the clients of a round awaiting its signature. When
// some are gone it fails their changes (client_gone) and aborts the round,
// returning the others to pending so the next round is cut at once without
// them; aborted says so. Otherwise next is when the first client's presence
// runs out (zero when none is tracked), the moment to look again.
func (s *Store) DropGoneClients(ctx context.Context, r Round) (aborted bool, next time.Time, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		aborted, next = false, time.Time{}
		var gone []int64
		var first *time.Time
		err := tx.QueryRow(ctx, `
			SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE client_seen_until < now()), '{}'),
				min(client_seen_until) FILTER (WHERE client_seen_until >= now())
			FROM changes WHERE round_id = $1 AND state = 'in_round'`, r.ID).Scan(&gone, &first)
		if err != nil {
			return translate("check round clients", err)
		}
		if len(gone) == 0 {
			if first != nil {
				next = *first
			}
			return nil
		}
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM rounds WHERE id = $1 FOR UPDATE`, r.ID).Scan(&state); err != nil {
			return translate("lock round", err)
		}
		if state != RoundAwaitingSignature {
			return nil // signed meanwhile: it publishes, gone clients' changes included
		}
		if _, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'failed', error_code = $2, error_message = $3, updated_at = now()
			WHERE id = ANY($1)`, gone, CodeClientGone, goneMessage); err != nil {
			return translate("fail changes of gone clients", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO job_events (change_id, kind, detail)
			SELECT id, $2, jsonb_build_object('round_id', $3::bigint, 'code', $4::text, 'message', $5::text)
			FROM unnest($1::bigint[]) AS id ORDER BY id`, gone, EventFailed, r.ID, CodeClientGone, goneMessage); err != nil {
			return translate("record client_gone", err)
		}
		msg := fmt.Sprintf("the clients of %d of its changes are gone; its other changes go to the next round", len(gone))
		if err := abortRound(ctx, tx, r.ID, gone, CodeClientGone, msg); err != nil {
			return err
		}
		// The round now holds only the changes that failed.
		if err := s.roundWebhooks(ctx, tx, WebhookFailed, r); err != nil {
			return err
		}
		aborted = true
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
	return aborted, next, err
}
