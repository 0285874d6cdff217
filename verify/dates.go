package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/aptq/aptq/apt"
)

// How far the Date of a Release to sign may be from the signer's clock.
// apt accepts a signed Release until its Valid-Until, so a server that got
// one signed with a Date ahead, or a Valid-Until further ahead than the
// release's own validity, could serve that generation as current long after
// newer ones (a freeze attack).
const (
	// MaxDateAhead allows for the difference between the database clock,
	// which dates a round, and the signer's.
	MaxDateAhead = 5 * time.Minute
	// MaxDateAge is how old a Date may be when signed: a round is dated
	// when it is cut and waits for its signature at most the server's
	// signature timeout (APTQ_SIGNATURE_TIMEOUT, 120 s by default). An hour
	// covers a slow round under a longer timeout and refuses a round dated
	// long ago, kept back to be signed later.
	MaxDateAge = time.Hour
)

// checkDates checks the Release's Date against the signer's clock and the
// previous generation, and its validity (Valid-Until - Date) against the
// previous generation's, or the last listed update's that sets one.
func checkDates(now time.Time, prev, next *apt.Release, changes []Change) error {
	if now.IsZero() {
		return errors.New("verify: the signer's clock (Config.Now) is not set")
	}
	date := next.Meta.Date
	if date.IsZero() {
		return errors.New("the Release to sign has no Date")
	}
	if ahead := date.Sub(now); ahead > MaxDateAhead {
		return fmt.Errorf("the Release to sign is dated %s, %s ahead of this machine's clock (%s); at most %s is allowed "+
			"(apt would take it as current for that much longer: check the server's and this machine's clocks)",
			date.Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339), MaxDateAhead)
	}
	if age := now.Sub(date); age > MaxDateAge {
		return fmt.Errorf("the Release to sign is dated %s, %s before this machine's clock (%s); a round is signed "+
			"within %s of being cut (check the server's and this machine's clocks)",
			date.Format(time.RFC3339), age.Round(time.Second), now.UTC().Format(time.RFC3339), MaxDateAge)
	}
	until := next.Meta.ValidUntil
	if !until.IsZero() && !until.After(date) {
		return fmt.Errorf("the Release to sign is valid until %s, not after its Date %s", until, date)
	}
	if prev != nil && !date.After(prev.Meta.Date) {
		return fmt.Errorf("the Release to sign is dated %s, not after generation %d's %s", date, prev.Meta.Generation, prev.Meta.Date)
	}
	return checkValidity(prev, next, changes)
}

// validity is Valid-Until - Date; 0 without Valid-Until.
func validity(m apt.ReleaseMeta) time.Duration {
	if m.ValidUntil.IsZero() {
		return 0
	}
	return m.ValidUntil.Sub(m.Date)
}

// checkValidity: the new Release is valid for as long after its Date as
// the previous one (which it was signed with), unless a listed update sets
// another validity. For generation 1 without such an update the signer has
// nothing signed to compare with.
func checkValidity(prev, next *apt.Release, changes []Change) error {
	var want time.Duration
	var by *Change
	for i, c := range changes {
		if c.Update != nil && c.Update.ValidFor != nil {
			want, by = *c.Update.ValidFor, &changes[i]
		}
	}
	if by == nil {
		if prev == nil {
			return nil
		}
		want = validity(prev.Meta)
	}
	got := validity(next.Meta)
	if got == want {
		return nil
	}
	describe := func(d time.Duration) string {
		if d == 0 {
			return "no Valid-Until"
		}
		return "a validity of " + d.String()
	}
	var source string
	if by != nil {
		source = fmt.Sprintf("change %d (job %d) of the round sets %s", by.ID, by.JobID, describe(want))
	} else {
		source = fmt.Sprintf("generation %d has %s and no change of the round sets another", prev.Meta.Generation, describe(want))
	}
	until := "none"
	if !next.Meta.ValidUntil.IsZero() {
		until = next.Meta.ValidUntil.Format(time.RFC3339)
	}
	return fmt.Errorf("the Release to sign has %s (Date %s, Valid-Until %s), but %s",
		describe(got), next.Meta.Date.Format(time.RFC3339), until, source)
}
