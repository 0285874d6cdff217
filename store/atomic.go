package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Statement is one step of a multi-statement write.
type Statement struct {
	// Name says what the step does, for the error when it fails.
	Name string
	SQL  string
	Args []any
	// Rows, when not negative, is how many rows the step must touch; a
	// different count fails the write with CodeConflict.
	Rows int64
}

// Stmt builds a Statement whose row count is not checked.
func Stmt(name, sql string, args ...any) Statement {
	return Statement{Name: name, SQL: sql, Args: args, Rows: -1}
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

// Atomic runs the statements in one transaction, sent as one pgx batch:
// either all of them take effect or none does, and the error names the
// statement that failed (a *StepError wrapping the translated cause, so
// that errors.Is(err, ErrConflict) and ErrorCode work on it).
func (s *Store) Atomic(ctx context.Context, stmts ...Statement) error {
	return s.InTx(ctx, func(tx pgx.Tx) error { return atomic(ctx, tx, stmts) })
}

// atomic runs the statements as one batch inside tx.
func atomic(ctx context.Context, tx pgx.Tx, stmts []Statement) error {
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
