package store

// RemoveStmt lets the external tests time a removal on its own.
var RemoveStmt = removeStmt

// Query is a chart or page query, for tests that explain and time them.
type Query = query

// PageQueries are the page's queries (pageQueries).
var PageQueries = pageQueries
