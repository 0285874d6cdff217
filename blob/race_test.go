//go:build race

package blob_test

// raceEnabled: the race detector shadows every allocation, so memory
// measurements are meaningless under it.
const raceEnabled = true
