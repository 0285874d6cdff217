package api

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sampleQueue samples the queue depth as the worker's periodic job does,
// at the minutes that many minutes ago.
func (b *bundle) sampleQueue(t *testing.T, minutesAgo ...int) {
	t.Helper()
	now := time.Now()
	for _, m := range minutesAgo {
		recorded, err := b.store.SampleQueue(context.Background(), now.Add(-time.Duration(m)*time.Minute))
		require.NoError(t, err)
		require.True(t, recorded)
	}
}

var seriesDot = regexp.MustCompile(`<circle class="pt s(\d)"[^>]* data-value="([\d.]+)"`)

// depthDots reads the queue depth chart of a page: the values of its
// points per series (s0 is queued), and its lines' segments.
func depthDots(t *testing.T, page string) (values map[int][]float64, segments int) {
	t.Helper()
	var chart string
	for _, m := range chartSVG.FindAllStringSubmatch(page, -1) {
		if m[1] == "chart-queue-depth" {
			chart = m[0]
		}
	}
	require.NotEmpty(t, chart, "the page has the queue depth chart")
	require.Contains(t, chart, "Queue depth by state, peak per")
	values = map[int][]float64{}
	for _, m := range seriesDot.FindAllStringSubmatch(chart, -1) {
		s, _ := strconv.Atoi(m[1])
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		values[s] = append(values[s], v)
	}
	line := regexp.MustCompile(`<path class="line s0" d="([^"]*)"`).FindStringSubmatch(chart)
	if line != nil {
		segments = strings.Count(line[1], "M")
	}
	return values, segments
}

// TestUIQueueDepthChart: the pages chart the sampled queue depth, one
// line per open state: the overview counts every release's queued jobs,
// a release's page only its own, a minute without a sample is a gap in the
// line and not a zero, and wider buckets hold the peak of their minutes.
func TestUIQueueDepthChart(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	b.chartRelease("charts", "stable", 1)
	b.chartRelease("charts", "testing", 1)
	b.queueChange(t, "charts", "stable", "depth-one")
	b.sampleQueue(t, 5)
	b.queueChange(t, "charts", "testing", "depth-two")
	b.queueChange(t, "charts", "testing", "depth-three")
	b.sampleQueue(t, 2, 1) // minutes 4 and 3 ago are not sampled
	_, op := b.operator()
	get := func(path, tok string) string {
		t.Helper()
		res := b.uiDo(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + tok}, "")
		require.Equal(t, http.StatusOK, res.status, res.body)
		return res.body
	}

	overview, segments := depthDots(t, get("/ui/", op))
	require.Equal(t, []float64{1, 3, 3}, overview[0], "queued, of every release, in the three sampled minutes")
	for s := 1; s <= 3; s++ {
		require.Equal(t, []float64{0, 0, 0}, overview[s], "series s%d: no job in a round", s)
	}
	require.Equal(t, 2, segments, "the unsampled minutes split the line")

	stable, _ := depthDots(t, get("/ui/releases/"+b.tenant.Name+"/charts/stable", b.token))
	require.Equal(t, []float64{1, 1, 1}, stable[0], "the release's own queued job only")
	testing, _ := depthDots(t, get("/ui/releases/"+b.tenant.Name+"/charts/testing", b.token))
	require.Equal(t, []float64{0, 2, 2}, testing[0], "sampled while it had no job: zero, not a gap")

	// A 15-minute bucket holds the peak of its minutes (the samples may
	// straddle two buckets: then each holds its own minutes' peak).
	day, _ := depthDots(t, get("/ui/?window=24h", op))
	require.NotEmpty(t, day[0])
	require.Equal(t, 3.0, day[0][len(day[0])-1], "the last bucket's peak")
	require.LessOrEqual(t, len(day[0]), 2)
}
