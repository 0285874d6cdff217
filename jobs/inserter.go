package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Inserter enqueues jobs inside a caller's transaction: what the API needs
// of River (an insert-only *river.Client[pgx.Tx] is one), so that the API
// names neither River nor the driver.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

var _ Inserter = (*river.Client[pgx.Tx])(nil)
