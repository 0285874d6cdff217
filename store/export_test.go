package store

// RemoveStmt lets the external tests time a removal on its own.
var RemoveStmt = removeStmt
