package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// submitSignature verifies a signature pair against the repository's keys
// and the round's exact Release bytes; the first valid one wins.
func (s *Server) submitSignature(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("round id %q is not a number", c.Param("id"))
	}
	var req SignatureRequest
	if err := bindMax(c, &req, maxSignatureBody); err != nil {
		return err
	}
	owner, repoID, err := s.store.RoundTenant(ctx, id)
	if err != nil {
		return err
	}
	if owner != tenant.ID {
		return store.Errorf(wire.CodeNotFound, "round %d not found", id)
	}
	round, err := s.store.RoundByID(ctx, id)
	if err != nil {
		return err
	}
	if req.Generation != round.Generation {
		e := store.Errorf(wire.CodeStaleGeneration, "round %d publishes generation %d, not %d", id, round.Generation, req.Generation)
		e.Details = map[string]any{"generation": round.Generation}
		return e
	}
	keys, err := s.store.SigningKeys(ctx, s.store.Pool, repoID)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return store.Errorf(wire.CodeUnknownKey, "the repository has no registered signing key: add one with `aptq key add`")
	}
	armored := make([][]byte, len(keys))
	for i, k := range keys {
		armored[i] = []byte(k.Armored)
	}
	signers, err := sign.Verify(round.ReleaseBytes, []byte(req.InRelease), []byte(req.ReleaseGPG), armored)
	if err != nil {
		if errors.Is(err, sign.ErrUnknownKey) || errors.Is(err, sign.ErrContentMismatch) ||
			errors.Is(err, sign.ErrBadSignature) || errors.Is(err, sign.ErrExpiredKey) || errors.Is(err, sign.ErrInvalidKey) ||
			errors.Is(err, sign.ErrRevokedKey) {
			return err
		}
		return store.Errorf(wire.CodeBadSignature, "signature rejected: %v", err)
	}
	signed, err := s.store.SignRound(ctx, id, req.Generation, []byte(req.InRelease), []byte(req.ReleaseGPG), signers)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.SignatureResult{RoundID: signed.ID, Generation: signed.Generation,
		State: signed.State, Signers: signers})
}
