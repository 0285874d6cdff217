package verify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// TestCheckDates: the Date of a Release to sign is close to the signer's
// clock, and Valid-Until - Date is the previous generation's unless a
// listed update sets another (a server that got a Release signed valid for
// years, or dated ahead, could replay it as current until then: a freeze
// attack). A resign, which moves Date and Valid-Until together, passes.
func TestCheckDates(t *testing.T) {
	t.Parallel()
	const week, month = 7 * 24 * time.Hour, 30 * 24 * time.Hour
	gen1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	validFor := func(d time.Duration) Change {
		return Change{ID: 12, JobID: 34, TokenName: "admin", Update: &Update{ValidFor: &d}}
	}
	keepAll := 0
	other := Change{ID: 13, JobID: 35, TokenName: "admin", Update: &Update{KeepVersions: &keepAll}}
	cases := []struct {
		name string
		// prevValid is generation 1's Valid-Until - Date (0: none).
		prevValid time.Duration
		// date is generation 2's Date, valid its Valid-Until - Date.
		date  time.Time
		valid time.Duration
		// now is the signer's clock (default: date + 1 minute).
		now     time.Time
		changes []Change
		err     string
	}{
		{name: "resign: Date and Valid-Until move together", prevValid: week, date: gen1.Add(24 * time.Hour), valid: week,
			changes: []Change{{ID: 11, JobID: 21, TokenName: "ci"}}},
		{name: "no Valid-Until before or after", date: gen1.Add(time.Minute)},
		{name: "Valid-Until pushed ahead", prevValid: week, date: gen1.Add(time.Minute), valid: 10 * 365 * 24 * time.Hour,
			err: "the Release to sign has a validity of 87600h0m0s (Date 2026-03-01T12:01:00Z, Valid-Until 2036-02-27T12:01:00Z), " +
				"but generation 1 has a validity of 168h0m0s and no change of the round sets another"},
		{name: "update of another setting passes", prevValid: week, date: gen1.Add(time.Minute), valid: week,
			changes: []Change{other}},
		{name: "Valid-Until pushed ahead beside an update of another setting", prevValid: week, date: gen1.Add(time.Minute),
			valid: month, changes: []Change{other}, err: "but generation 1 has a validity of 168h0m0s"},
		{name: "Valid-Until added by no update", date: gen1.Add(time.Minute), valid: week,
			err: "has a validity of 168h0m0s (Date 2026-03-01T12:01:00Z, Valid-Until 2026-03-08T12:01:00Z), but generation 1 has no Valid-Until"},
		{name: "Valid-Until dropped by no update", prevValid: week, date: gen1.Add(time.Minute),
			err: "has no Valid-Until (Date 2026-03-01T12:01:00Z, Valid-Until none), but generation 1 has a validity of 168h0m0s"},
		{name: "listed valid_for applied", prevValid: week, date: gen1.Add(time.Minute), valid: month,
			changes: []Change{validFor(month)}},
		{name: "listed valid_for none applied", prevValid: week, date: gen1.Add(time.Minute), changes: []Change{validFor(0)}},
		{name: "listed valid_for, the last one counts", prevValid: week, date: gen1.Add(time.Minute), valid: week,
			changes: []Change{validFor(month), other, validFor(week)}},
		{name: "Valid-Until beyond the listed valid_for", prevValid: week, date: gen1.Add(time.Minute), valid: 2 * month,
			changes: []Change{validFor(month)}, err: "but change 12 (job 34) of the round sets a validity of 720h0m0s"},
		{name: "listed valid_for not applied", prevValid: week, date: gen1.Add(time.Minute), valid: week,
			changes: []Change{validFor(month)}, err: "but change 12 (job 34) of the round sets a validity of 720h0m0s"},
		{name: "Date a little ahead of the signer's clock", prevValid: week, date: gen1.Add(time.Minute), valid: week,
			now: gen1.Add(time.Minute - MaxDateAhead + time.Second)},
		{name: "Date in the future", prevValid: week, date: gen1.Add(30 * 24 * time.Hour), valid: week, now: gen1.Add(time.Minute),
			err: "the Release to sign is dated 2026-03-31T12:00:00Z, 719h59m0s ahead of this machine's clock (2026-03-01T12:01:00Z); at most 5m0s"},
		{name: "Date far in the past", prevValid: week, date: gen1.Add(time.Minute), valid: week, now: gen1.Add(30 * 24 * time.Hour),
			err: "the Release to sign is dated 2026-03-01T12:01:00Z, 719h59m0s before this machine's clock (2026-03-31T12:00:00Z); " +
				"a round is signed within 1h0m0s of being cut"},
		{name: "Date as old as a slow round's", prevValid: week, date: gen1.Add(time.Minute), valid: week,
			now: gen1.Add(time.Minute + MaxDateAge)},
		{name: "Date not after the previous one's", prevValid: week, date: gen1, valid: week, err: "not after generation 1's"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			files := fx.repo.indexFiles(t, fx.base)
			build := func(gen int64, date time.Time, valid time.Duration) []byte {
				meta := baseMeta
				meta.Generation, meta.Date = gen, date
				if valid > 0 {
					meta.ValidUntil = date.Add(valid)
				}
				return apt.BuildRelease(meta, files)
			}
			prev, _, err := sign.Sign(build(1, gen1, tc.prevValid), fx.key)
			require.NoError(t, err)
			now := tc.now
			if now.IsZero() {
				now = tc.date.Add(time.Minute)
			}
			r := Round{ID: 7, Generation: 2, Release: build(2, tc.date, tc.valid), PreviousInRelease: prev, Changes: tc.changes}
			err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: now}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// TestCheckDatesFirstGeneration: generation 1 has no signed predecessor;
// its Date is still bounded by the signer's clock, a listed valid_for
// still binds, and a signer that forgot to set its clock is refused.
func TestCheckDatesFirstGeneration(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	meta := baseMeta
	meta.Generation, meta.Date, meta.ValidUntil = 1, date, date.Add(365*24*time.Hour)
	week := 7 * 24 * time.Hour
	r := Round{ID: 1, Generation: 1, Release: apt.BuildRelease(meta, fx.repo.indexFiles(t, nil))}
	cfg := Config{PublicKeys: [][]byte{fx.pub}, Now: date}
	require.NoError(t, Check(context.Background(), cfg, r, fx.repo))

	r.Changes = []Change{{ID: 3, JobID: 4, Update: &Update{ValidFor: &week}}}
	require.ErrorContains(t, Check(context.Background(), cfg, r, fx.repo), "but change 3 (job 4) of the round sets a validity of 168h0m0s")

	r.Changes = nil
	cfg.Now = date.Add(-time.Hour)
	require.ErrorContains(t, Check(context.Background(), cfg, r, fx.repo), "1h0m0s ahead of this machine's clock")
	cfg.Now = time.Time{}
	require.ErrorContains(t, Check(context.Background(), cfg, r, fx.repo), "the signer's clock (Config.Now) is not set")
}
