package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RemoveStmt lets the external tests time a removal on its own.
var RemoveStmt = removeStmt

// Statement, Stmt and Atomic let the external tests run a batch of their
// own through atomic.
type Statement = statement

var Stmt = stmt

func (s *Store) Atomic(ctx context.Context, stmts ...Statement) error {
	return s.InTx(ctx, func(tx pgx.Tx) error { return atomic(ctx, tx, stmts) })
}

// Query is a chart or page query, for tests that explain and time them.
type Query = query

// PageQueries are the page's queries (pageQueries).
var PageQueries = pageQueries
