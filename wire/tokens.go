package wire

// Token scopes, from least to most power.
const (
	ScopeRead    = "read"    // list and show
	ScopePublish = "publish" // also upload, change, sign, cancel, retry, resign, roll back, reconcile
	ScopeAdmin   = "admin"   // also repositories, releases, keys, tokens and the audit log
)

// TokenRef names the token that did something: submitted a change, signed
// a round, made an audited action.
type TokenRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}
