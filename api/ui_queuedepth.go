package api

import (
	"context"
	"html/template"
	"math"
	"slices"
	"time"

	"github.com/aptq/aptq/internal/svgchart"
	"github.com/aptq/aptq/store"
)

// queueDepthChart draws the sampled queue depth of the release (0: of
// every release) over [start, end): per bucket and state the peak of the
// minute samples, since a peak is what an operator looks for. A bucket
// no worker sampled is a gap in every line, not a fall to zero.
func (s *Server) queueDepthChart(ctx context.Context, releaseID int64, start, end time.Time, step time.Duration) (template.HTML, error) {
	depth, err := s.store.QueueDepth(ctx, releaseID, start, end, step)
	if err != nil {
		return "", err
	}
	series := make([]svgchart.Series, 0, len(openStates))
	for _, st := range depthStates(depth) {
		se := svgchart.Series{Name: st, Points: make([]svgchart.Point, len(depth))}
		for i, b := range depth {
			v := math.NaN()
			if b.Sampled {
				v = float64(b.Jobs[st])
			}
			se.Points[i] = svgchart.Point{At: b.At, Value: v}
		}
		series = append(series, se)
	}
	// No "bucket" after the step, as the other charts have: the four
	// states' legend needs the room.
	return svgchart.TimeChart{ID: "chart-queue-depth", Title: "Queue depth by state, peak per " + stepLabel(step),
		Unit: "jobs", Start: start, End: end, Step: step, Style: svgchart.Lines, Series: series}.Render(), nil
}

// depthStates are openStates, then any other state the samples hold, in
// name order, so that the series keep their colours from page to page.
func depthStates(depth []store.DepthBucket) []string {
	var other []string
	for _, b := range depth {
		for st := range b.Jobs {
			if !slices.Contains(openStates, st) && !slices.Contains(other, st) {
				other = append(other, st)
			}
		}
	}
	slices.Sort(other)
	return append(slices.Clone(openStates), other...)
}
