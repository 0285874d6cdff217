package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

// A timeline prints lists one way and leaves empty details out, rather
// than "files=<nil>" or "[amd64 arm64]"; numbers print as the ids they are.
func TestTimelineFormatting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out}
	at := time.Date(2026, 12, 3, 4, 5, 6, 7e6, time.UTC)
	a.printTimeline(client.Job{Timeline: []client.Event{
		{Kind: "round_cut", At: at, Detail: map[string]any{"round_id": float64(12345678), "generation": float64(3),
			"architectures": []any{"amd64", "arm64"}, "files": nil, "note": "", "removes": []any{}}},
		{Kind: "uploaded", At: at, Detail: map[string]any{"files": []any{"Packages.gz", "Packages.xz"}, "seconds": 0.25}},
		{Kind: "published", At: at},
	}})
	require.Equal(t, ""+
		"  04:05:06.007  round_cut           architectures=amd64, arm64; generation=3; round_id=12345678\n"+
		"  04:05:06.007  uploaded            files=Packages.gz, Packages.xz; seconds=0.25\n"+
		"  04:05:06.007  published\n", out.String())
}

func TestFormatDetails(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", formatDetails(nil))
	require.Equal(t, "", formatDetails(map[string]any{"files": nil, "x": ""}))
	require.Equal(t, " (components=main, contrib; field=component)",
		formatDetails(map[string]any{"field": "component", "components": []any{"main", "contrib"}, "empty": []any{}}))
	require.Equal(t, "amd64, arm64", joinList([]string{"amd64", "arm64"}))
}
