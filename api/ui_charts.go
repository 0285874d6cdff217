package api

import (
	"context"
	"html/template"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/internal/svgchart"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// The charts of the operator page and of a release's page: rounds per
// minute, round duration, signature wait and open jobs by state over a
// window, open jobs by state now and, on the overview, the releases with
// the most queued changes.
// They are SVG drawn on the server (internal/svgchart), so the page still
// needs no script.

// uiWindow is a window a page may chart, and the width of its buckets.
type uiWindow struct {
	Name       string
	Span, Step time.Duration
}

// uiWindows are the windows a page offers, in order; the first is the default.
var uiWindows = []uiWindow{
	{"1h", time.Hour, time.Minute},
	{"24h", 24 * time.Hour, 15 * time.Minute},
	{"7d", 7 * 24 * time.Hour, 2 * time.Hour},
}

// windowParam reads ?window=; anything but a listed window is a 400, so
// that a crafted value never reaches a query.
func windowParam(c echo.Context) (uiWindow, error) {
	v := c.QueryParam("window")
	if v == "" {
		return uiWindows[0], nil
	}
	names := make([]string, len(uiWindows))
	for i, w := range uiWindows {
		if w.Name == v {
			return w, nil
		}
		names[i] = w.Name
	}
	e := store.Errorf(wire.CodeBadRequest, "window must be one of 1h, 24h, 7d")
	e.Details = map[string]any{"windows": names}
	return uiWindow{}, e
}

// uiCharts are a page's charts, drawn, and the window they show.
type uiCharts struct {
	Window  uiWindow
	Windows []uiWindow
	Rounds  template.HTML
	Timings []template.HTML
	Depth   template.HTML // the queue depth over the window, beside its bar chart of now
	Bars    []template.HTML
}

const busiestLimit = 10 // releases in the pending chart

// charts draws the charts of the release (0: of every release) over the
// window ending with the current bucket.
func (s *Server) charts(ctx context.Context, w uiWindow, releaseID int64, now time.Time) (*uiCharts, error) {
	end := now.UTC().Truncate(w.Step).Add(w.Step)
	start := end.Add(-w.Span)
	buckets, err := s.store.RoundBuckets(ctx, releaseID, start, end, w.Step)
	if err != nil {
		return nil, err
	}
	open, err := s.store.OpenJobs(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	ch := &uiCharts{Window: w, Windows: uiWindows}
	perMinute := w.Step.Minutes()
	series := func(name string, value func(store.ChartBucket) float64) svgchart.Series {
		se := svgchart.Series{Name: name, Points: make([]svgchart.Point, len(buckets))}
		for i, b := range buckets {
			se.Points[i] = svgchart.Point{At: b.At, Value: value(b)}
		}
		return se
	}
	timeChart := func(id, title, unit string, style svgchart.Style, series ...svgchart.Series) template.HTML {
		return svgchart.TimeChart{ID: id, Title: title, Unit: unit, Start: start, End: end, Step: w.Step,
			Style: style, Series: series}.Render()
	}
	ch.Rounds = timeChart("chart-rounds", "Publishes: rounds ended, per "+stepLabel(w.Step)+" bucket", "rounds/min",
		svgchart.StackedBars,
		series("published", func(b store.ChartBucket) float64 { return float64(b.Published) / perMinute }),
		series("failed", func(b store.ChartBucket) float64 { return float64(b.Failed) / perMinute }))
	ch.Timings = []template.HTML{
		timeChart("chart-round-duration", "Round duration, cut to published", "seconds", svgchart.Lines,
			series("p50", func(b store.ChartBucket) float64 { return b.RoundP50 }),
			series("p95", func(b store.ChartBucket) float64 { return b.RoundP95 })),
		timeChart("chart-signature-wait", "Signature wait, cut to accepted signature", "seconds", svgchart.Lines,
			series("p50", func(b store.ChartBucket) float64 { return b.SignP50 }),
			series("p95", func(b store.ChartBucket) float64 { return b.SignP95 })),
	}
	if ch.Depth, err = s.queueDepthChart(ctx, releaseID, start, end, w.Step); err != nil {
		return nil, err
	}
	ch.Bars = append(ch.Bars, svgchart.BarChart{ID: "chart-queue", Title: "Queue depth: open jobs by state, now",
		Unit: "jobs", Bars: openBars(open)}.Render())
	if releaseID == 0 {
		busiest, err := s.store.BusiestReleases(ctx, busiestLimit)
		if err != nil {
			return nil, err
		}
		bars := make([]svgchart.Bar, len(busiest))
		for i, r := range busiest {
			bars[i] = svgchart.Bar{Label: r.Tenant + "/" + r.Repo + "/" + r.Release, Value: float64(r.Pending)}
		}
		ch.Bars = append(ch.Bars, svgchart.BarChart{ID: "chart-pending", Title: "Queued changes, busiest releases, now",
			Unit: "changes", Bars: bars}.Render())
	}
	return ch, nil
}

// openStates are the states of an open job in the order a job goes through them.
var openStates = []string{store.JobQueued, "awaiting_signature", "signed", "committed"}

// openBars orders the counts by openStates, then any other state; a state
// without jobs still has its row, so the chart's rows do not move.
func openBars(counts []store.StateCount) []svgchart.Bar {
	byState := map[string]int{}
	for _, c := range counts {
		byState[c.State] = c.Count
	}
	bars := make([]svgchart.Bar, 0, len(openStates))
	for _, st := range openStates {
		bars = append(bars, svgchart.Bar{Label: st, Value: float64(byState[st])})
		delete(byState, st)
	}
	for _, c := range counts {
		if _, ok := byState[c.State]; ok {
			bars = append(bars, svgchart.Bar{Label: c.State, Value: float64(c.Count)})
		}
	}
	return bars
}

// stepLabel names a bucket's width: "1 min", "2 h".
func stepLabel(d time.Duration) string {
	if d < time.Hour {
		return strconv.Itoa(int(d.Minutes())) + " min"
	}
	return strconv.Itoa(int(d.Hours())) + " h"
}
