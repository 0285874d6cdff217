package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// statement is one step of a multi-statement write.
type statement struct {
	// Name says what the step does, for the error when it fails.
	Name string
	SQL  string
	Args []any
	// Rows, when not negative, is how many rows the step must touch; a
	// different count fails the write with CodeConflict.
	Rows int64
}

// stmt builds a statement whose row count is not checked.
func stmt(name, sql string, args ...any) statement {
	return statement{Name: name, SQL: sql, Args: args, Rows: -1}
}

// StepError says which statement of an atomic write failed, and how.
type StepError struct {
	Index      int // 0-based position of the failed statement
	Name       string
	Constraint string // the violated constraint, when a constraint failed
	Err        error  // the translated (*Error) cause
}

func (e *StepError) Error() string {
	return fmt.Sprintf("statement %d (%s): %v", e.Index+1, e.Name, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// atomic runs the statements in tx, sent as one pgx batch: either all of
// them take effect or none does (the caller's transaction), and the error
// names the statement that failed (a *StepError wrapping the translated
// cause, so that errors.Is(err, ErrConflict) and ErrorCode work on it). It
// is how the store sends several writes at once; only a write whose next
// statement needs what the previous one returned (an id, a check) runs its
// statements one by one in InTx.
func atomic(ctx context.Context, tx pgx.Tx, stmts []statement) error {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	results := tx.SendBatch(ctx, b)
	defer results.Close()
	for i, st := range stmts {
		tag, err := results.Exec()
		if err != nil {
			stepErr := &StepError{Index: i, Name: st.Name, Err: translate(st.Name, err)}
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				stepErr.Constraint = pgErr.ConstraintName
			}
			return stepErr
		}
		if st.Rows >= 0 && tag.RowsAffected() != st.Rows {
			return &StepError{Index: i, Name: st.Name, Err: Errorf(CodeConflict,
				"%s: touched %d rows, expected %d: the data moved meanwhile", st.Name, tag.RowsAffected(), st.Rows)}
		}
	}
	return results.Close()
}
