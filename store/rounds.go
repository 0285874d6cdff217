package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Round states.
const (
	RoundAwaitingSignature = "awaiting_signature"
	RoundSigned            = "signed"
	RoundCommitted         = "committed"
	RoundPublished         = "published"
	RoundFailed            = "failed"
)

// IndexFile is one file a Release lists, path relative to dists/<release>/.
// MD5 is also the ETag S3 gives the stored file, which the conditional
// write of the next generation's flat file names. SHA512 is set only in
// generations from before aptq dropped it: their by-hash/SHA512 objects
// exist until garbage collection removes them.
type IndexFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
	// ListedOnly: the Release lists the file (the uncompressed Packages of
	// a release without the "none" compression) but S3 holds neither its
	// flat nor its by-hash object.
	ListedOnly bool `json:"listed_only,omitempty"`
}

// Round is one publish of a release: its generated Release, and once
// signed, the signatures.
type Round struct {
	ID                int64
	ReleaseID         int64
	Generation        int64
	State             string
	ReleaseDate       time.Time
	ReleaseBytes      []byte
	Files             []IndexFile
	SignatureDeadline time.Time
	InRelease         []byte
	ReleaseGPG        []byte
	Signers           []string
	ErrorCode         string
	ErrorMessage      string
	CreatedAt         time.Time
	// SignedBy is the token whose signature was accepted; nil before.
	SignedBy *TokenRef
	// ByHashBytes is what the round's cut wrote to S3 (see Cut).
	ByHashBytes int64
	// KeepVersions is the release's retention when the round was cut, and
	// Retention what it removes beside the round's changes (after them).
	KeepVersions int
	Retention    []ChangeRemove
}

const roundColumns = `id, release_id, generation, state, release_date, release_bytes, files,
	signature_deadline, inrelease, release_gpg, coalesce(signers, '{}'), coalesce(error_code, ''),
	coalesce(error_message, ''), created_at, signed_by_token_id,
	coalesce((SELECT k.name FROM api_tokens k WHERE k.id = rounds.signed_by_token_id), ''), by_hash_bytes,
	keep_versions, retention`

func scanRound(row interface{ Scan(...any) error }) (Round, error) {
	var r Round
	var files, retention []byte
	var signerID *int64
	var signerName string
	err := row.Scan(&r.ID, &r.ReleaseID, &r.Generation, &r.State, &r.ReleaseDate, &r.ReleaseBytes,
		&files, &r.SignatureDeadline, &r.InRelease, &r.ReleaseGPG, &r.Signers, &r.ErrorCode,
		&r.ErrorMessage, &r.CreatedAt, &signerID, &signerName, &r.ByHashBytes, &r.KeepVersions, &retention)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(retention, &r.Retention); err != nil {
		return r, err
	}
	r.SignedBy = tokenRef(signerID, signerName)
	return r, json.Unmarshal(files, &r.Files)
}

// RoundByID returns a round.
func (s *Store) RoundByID(ctx context.Context, id int64) (Round, error) {
	r, err := scanRound(s.Pool.QueryRow(ctx, `SELECT `+roundColumns+` FROM rounds WHERE id = $1`, id))
	return r, translate("round", err)
}

// OpenRound returns the release's unfinished round (awaiting signature,
// signed or committed), or ErrNotFound.
func (s *Store) OpenRound(ctx context.Context, releaseID int64) (Round, error) {
	r, err := scanRound(s.Pool.QueryRow(ctx, `SELECT `+roundColumns+` FROM rounds
		WHERE release_id = $1 AND state IN ('awaiting_signature', 'signed', 'committed')`, releaseID))
	return r, translate("open round", err)
}

// NextReleaseDate is the Date of the release's next generation: now by the
// database clock, to the second, and at least one second after the last
// committed generation's, because apt ignores a Release older than its own.
func (s *Store) NextReleaseDate(ctx context.Context, releaseID int64) (time.Time, error) {
	var t time.Time
	err := s.Pool.QueryRow(ctx, `
		SELECT greatest(date_trunc('second', now()), date_trunc('second', release_date) + interval '1 second')
		FROM releases WHERE id = $1`, releaseID).Scan(&t)
	return t.UTC(), translate("next release date", err)
}

// Cut is what a worker decided a new round holds.
type Cut struct {
	Lease            Lease
	Generation       int64
	ReleaseDate      time.Time
	ReleaseBytes     []byte
	Files            []IndexFile
	ChangeIDs        []int64
	SignatureTimeout time.Duration
	// ByHashFiles are the paths of the index files uploaded under by-hash
	// for this round (the others are the last generation's), for the timeline.
	ByHashFiles []string
	// ByHashBytes is what those uploads wrote to S3.
	ByHashBytes int64
	// KeepVersions and Retention: see Round.
	KeepVersions int
	Retention    []ChangeRemove
}

// CutRound stores a new round awaiting signature and moves its changes into
// it. It fails with ErrLeaseLost when the lease is no longer the caller's,
// and with CodeRetry when the release or its pending changes moved since the
// caller read them.
func (s *Store) CutRound(ctx context.Context, c Cut) (Round, error) {
	var r Round
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, c.Lease); err != nil {
			return err
		}
		var gen int64
		if err := tx.QueryRow(ctx, `SELECT generation FROM releases WHERE id = $1`, c.Lease.ReleaseID).Scan(&gen); err != nil {
			return translate("read release generation", err)
		}
		if gen != c.Generation-1 {
			return Errorf(CodeRetry, "release moved to generation %d", gen)
		}
		files, _ := json.Marshal(c.Files)
		if c.Retention == nil {
			c.Retention = []ChangeRemove{}
		}
		retention, _ := json.Marshal(c.Retention)
		var err error
		r, err = scanRound(tx.QueryRow(ctx, `
			INSERT INTO rounds (release_id, generation, state, release_date, release_bytes, files, signature_deadline,
				by_hash_bytes, keep_versions, retention)
			VALUES ($1, $2, 'awaiting_signature', $3, $4, $5, now() + $6::interval, $7, $8, $9)
			RETURNING `+roundColumns,
			c.Lease.ReleaseID, c.Generation, c.ReleaseDate, c.ReleaseBytes, files, c.SignatureTimeout, c.ByHashBytes,
			c.KeepVersions, retention))
		if err != nil {
			return translate("insert round", err)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'in_round', round_id = $2, updated_at = now()
			WHERE id = ANY($1) AND state = 'pending'`, c.ChangeIDs, r.ID)
		if err != nil {
			return translate("move changes into round", err)
		}
		if tag.RowsAffected() != int64(len(c.ChangeIDs)) {
			return Errorf(CodeRetry, "pending changes moved while the round was cut")
		}
		if err := roundEvent(ctx, tx, r.ID, EventRoundCut, map[string]any{"round_id": r.ID,
			"generation": r.Generation, "worker": c.Lease.Holder, "lease_token": c.Lease.Token,
			"changes": len(c.ChangeIDs), "signature_deadline": r.SignatureDeadline,
			"by_hash_uploaded": c.ByHashFiles, "bytes": c.ByHashBytes}); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, c.Lease.ReleaseID)
	})
	return r, err
}

// SignRound stores a verified signature pair on a round awaiting one, with
// the context's actor (WithActor) as the token that signed it. The first
// valid signature wins; the error says why another is refused.
func (s *Store) SignRound(ctx context.Context, roundID, generation int64, inRelease, releaseGPG []byte, signers []string) (Round, error) {
	var r Round
	var signer *int64
	if actor, ok := ActorFrom(ctx); ok {
		signer = &actor.TokenID
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = scanRound(tx.QueryRow(ctx, `SELECT `+roundColumns+` FROM rounds WHERE id = $1 FOR UPDATE`, roundID))
		if err != nil {
			return translate("round", err)
		}
		var expired bool
		if err := tx.QueryRow(ctx, `SELECT signature_deadline < now() FROM rounds WHERE id = $1`, roundID).Scan(&expired); err != nil {
			return translate("round deadline", err)
		}
		switch {
		case r.Generation != generation:
			return &Error{Code: CodeStaleGeneration,
				Message: fmt.Sprintf("round %d publishes generation %d, not %d", r.ID, r.Generation, generation),
				Details: map[string]any{"generation": r.Generation}}
		case r.State == RoundFailed || (r.State == RoundAwaitingSignature && expired):
			return Errorf(CodeRoundFailed, "round %d failed or timed out", r.ID)
		case r.State != RoundAwaitingSignature:
			return Errorf(CodeAlreadySigned, "round %d is already signed", r.ID)
		}
		r, err = scanRound(tx.QueryRow(ctx, `
			UPDATE rounds SET state = 'signed', inrelease = $2, release_gpg = $3, signers = $4, signed_at = now(),
				signed_by_token_id = $5
			WHERE id = $1 RETURNING `+roundColumns, roundID, inRelease, releaseGPG, signers, signer))
		if err != nil {
			return translate("sign round", err)
		}
		detail := map[string]any{"round_id": r.ID, "signers": signers}
		if r.SignedBy != nil {
			detail["token"] = r.SignedBy.Name
		}
		if err := roundEvent(ctx, tx, r.ID, EventSigned, detail); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
	return r, err
}

// FailRound ends a round that cannot publish; its changes fail with the
// same reason. A round already committed cannot fail.
func (s *Store) FailRound(ctx context.Context, r Round, code, message string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE rounds SET state = 'failed', error_code = $2, error_message = $3
			WHERE id = $1 AND state IN ('awaiting_signature', 'signed')`, r.ID, code, message)
		if err != nil {
			return translate("fail round", err)
		}
		if tag.RowsAffected() == 0 {
			return Errorf(CodeConflict, "round %d can no longer fail", r.ID)
		}
		if err := roundEvent(ctx, tx, r.ID, EventFailed, map[string]any{"round_id": r.ID, "code": code, "message": message}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'failed', error_code = $2, error_message = $3, updated_at = now()
			WHERE round_id = $1 AND state = 'in_round'`, r.ID, code, message); err != nil {
			return translate("fail round changes", err)
		}
		if err := s.roundWebhooks(ctx, tx, WebhookFailed, r); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
}

// ExpireRound fails a round still awaiting a signature once its deadline
// has passed by the database clock; expired says whether it did.
func (s *Store) ExpireRound(ctx context.Context, r Round) (expired bool, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE rounds SET state = 'failed', error_code = $2,
				error_message = 'no signature arrived before the deadline'
			WHERE id = $1 AND state = 'awaiting_signature' AND signature_deadline <= now()`,
			r.ID, CodeSignatureTimeout)
		if err != nil {
			return translate("expire round", err)
		}
		expired = tag.RowsAffected() == 1
		if !expired {
			return nil
		}
		if err := roundEvent(ctx, tx, r.ID, EventFailed, map[string]any{"round_id": r.ID,
			"code": CodeSignatureTimeout, "message": "no signature arrived before the deadline"}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'failed', error_code = $2,
				error_message = 'no signature arrived before the deadline', updated_at = now()
			WHERE round_id = $1 AND state = 'in_round'`, r.ID, CodeSignatureTimeout); err != nil {
			return translate("fail round changes", err)
		}
		if err := s.roundWebhooks(ctx, tx, WebhookFailed, r); err != nil {
			return err
		}
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
	return expired, err
}

// RoundSummary is a round as operators list it.
type RoundSummary struct {
	ID           int64
	Generation   int64
	State        string
	Changes      int
	ErrorCode    string
	ErrorMessage string
	CreatedAt    time.Time
	SignedAt     *time.Time
	CommittedAt  *time.Time
	PublishedAt  *time.Time
}

// Rounds lists a release's latest rounds, newest first.
func (s *Store) Rounds(ctx context.Context, releaseID int64, limit int) ([]RoundSummary, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT r.id, r.generation, r.state,
			(SELECT count(*) FROM job_events e JOIN changes c ON c.id = e.change_id
			 WHERE e.kind = 'round_cut' AND (e.detail->>'round_id')::bigint = r.id),
			coalesce(r.error_code, ''), coalesce(r.error_message, ''), r.created_at, r.signed_at,
			r.committed_at, r.published_at
		FROM rounds r WHERE r.release_id = $1 ORDER BY r.id DESC LIMIT $2`, releaseID, limit)
	if err != nil {
		return nil, translate("list rounds", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RoundSummary])
	return out, translate("list rounds", err)
}

// CommittedInRelease returns the InRelease of the release's committed
// generation, as the signer accepted it, or ErrNotFound.
func (s *Store) CommittedInRelease(ctx context.Context, releaseID, generation int64) ([]byte, error) {
	var b []byte
	err := s.Pool.QueryRow(ctx, `SELECT inrelease FROM rounds
		WHERE release_id = $1 AND generation = $2 AND state IN ('committed', 'published')`,
		releaseID, generation).Scan(&b)
	return b, translate("committed InRelease", err)
}
