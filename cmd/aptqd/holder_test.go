package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHolderNamesUnique: processes that share a host name and a pid (two
// containers on the host network) still get different holder names, which
// River's leader election relies on.
func TestHolderNamesUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 10000 {
		name := holderName()
		require.False(t, seen[name], "%s twice", name)
		seen[name] = true
	}
}
