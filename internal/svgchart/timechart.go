package svgchart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Point is one value of a series at the start of its bucket; a NaN value
// means no data there (a gap in a line).
type Point struct {
	At    time.Time
	Value float64
}

// Series is a named sequence of points in time order.
type Series struct {
	Name   string
	Points []Point
}

// Style is how a time chart draws its series.
type Style int

const (
	// Lines draws each series as a line with a dot per point.
	Lines Style = iota
	// StackedBars draws one bar per bucket, the series stacked in order.
	StackedBars
)

// TimeChart is a chart over the window [Start, End) in buckets of Step.
type TimeChart struct {
	ID, Title, Unit string
	Start, End      time.Time
	Step            time.Duration
	Style           Style
	Series          []Series
}

// Render draws the chart.
func (c TimeChart) Render() template.HTML {
	var s svg
	s.open(c.ID, c.Title, Height)
	names := make([]string, len(c.Series))
	for i, se := range c.Series {
		names[i] = se.Name
	}
	s.legend(names)
	step, top := NiceScale(c.max(), 4)
	s.valueAxis(top, step, c.Unit)
	s.timeAxis(c.Start, c.End)
	if (c.Style == StackedBars && c.max() <= 0) || !c.hasPoints() {
		s.empty(Height)
		return s.close()
	}
	if c.Style == StackedBars {
		c.bars(&s, top)
	} else {
		c.lines(&s, top)
	}
	return s.close()
}

// max is the largest value drawn: a bucket's stack for bars.
func (c TimeChart) max() float64 {
	max := 0.0
	if c.Style == StackedBars {
		sums := map[time.Time]float64{}
		for _, se := range c.Series {
			for _, p := range se.Points {
				if !math.IsNaN(p.Value) {
					sums[p.At] += p.Value
					max = math.Max(max, sums[p.At])
				}
			}
		}
		return max
	}
	for _, se := range c.Series {
		for _, p := range se.Points {
			if !math.IsNaN(p.Value) {
				max = math.Max(max, p.Value)
			}
		}
	}
	return max
}

func (c TimeChart) hasPoints() bool {
	for _, se := range c.Series {
		for _, p := range se.Points {
			if !math.IsNaN(p.Value) {
				return true
			}
		}
	}
	return false
}

// xOf places an instant on the plot.
func (c TimeChart) xOf(t time.Time) float64 {
	span := c.End.Sub(c.Start)
	if span <= 0 {
		return padLeft
	}
	return padLeft + float64(t.Sub(c.Start))/float64(span)*plotWidth
}

func (c TimeChart) lines(s *svg, top float64) {
	half := c.Step / 2 // a bucket's point sits in its middle
	for i, se := range c.Series {
		var path []string
		open := false
		var dots string
		for _, p := range se.Points {
			if math.IsNaN(p.Value) || p.At.Before(c.Start) || !p.At.Before(c.End) {
				open = false
				continue
			}
			x, y := c.xOf(p.At.Add(half)), yOf(p.Value, top)
			cmd := "L"
			if !open {
				cmd = "M"
			}
			open = true
			path = append(path, fmt.Sprintf("%s%.1f %.1f", cmd, x, y))
			dots += fmt.Sprintf(`<circle class="pt %s" cx="%.1f" cy="%.1f" r="2.5" data-value="%s"><title>%s %s: %s %s</title></circle>`,
				class(i), x, y, esc(FormatValue(p.Value)), esc(p.At.UTC().Format("Jan 2 15:04")), esc(se.Name),
				esc(FormatValue(p.Value)), esc(c.Unit))
		}
		if len(path) > 0 {
			fmt.Fprintf(&s.b, `<path class="line %s" d="%s"/>`, class(i), strings.Join(path, " "))
		}
		s.b.WriteString(dots)
	}
}

func (c TimeChart) bars(s *svg, top float64) {
	width := float64(c.Step) / float64(c.End.Sub(c.Start)) * plotWidth
	gap := math.Min(1, width/4)
	base := map[time.Time]float64{}
	for i, se := range c.Series {
		for _, p := range se.Points {
			if math.IsNaN(p.Value) || p.Value <= 0 || p.At.Before(c.Start) || !p.At.Before(c.End) {
				continue
			}
			y0 := yOf(base[p.At], top)
			base[p.At] += p.Value
			y1 := yOf(base[p.At], top)
			fmt.Fprintf(&s.b, `<rect class="bar %s" x="%.2f" y="%.2f" width="%.2f" height="%.2f" data-value="%s"><title>%s %s: %s %s</title></rect>`,
				class(i), c.xOf(p.At)+gap/2, y1, math.Max(width-gap, 0.5), y0-y1, esc(FormatValue(p.Value)),
				esc(p.At.UTC().Format("Jan 2 15:04")), esc(se.Name), esc(FormatValue(p.Value)), esc(c.Unit))
		}
	}
}

// timeSteps are the tick intervals a time axis may use.
var timeSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

// TimeTicks returns the ticks of a time axis over [start, end): at most
// eight, on round UTC times, and the layout their labels use.
func TimeTicks(start, end time.Time) (ticks []time.Time, layout string) {
	span := end.Sub(start)
	step := timeSteps[len(timeSteps)-1]
	for _, st := range timeSteps {
		if span/st <= 8 {
			step = st
			break
		}
	}
	layout = "15:04"
	if step >= 24*time.Hour {
		layout = "Jan 2"
	}
	// Truncate rounds down from the zero time, which is a UTC midnight.
	for t := start.UTC().Truncate(step); t.Before(end); t = t.Add(step) {
		if !t.Before(start) {
			ticks = append(ticks, t)
		}
	}
	return ticks, layout
}

func (s *svg) timeAxis(start, end time.Time) {
	c := TimeChart{Start: start, End: end}
	bottom := padTop + plotHeight
	s.b.WriteString(`<g class="axis">`)
	fmt.Fprintf(&s.b, `<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, bottom, Width-padRight, bottom)
	ticks, layout := TimeTicks(start, end)
	for _, t := range ticks {
		x := c.xOf(t)
		fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			x, bottom, x, bottom+4, x, bottom+16, esc(t.Format(layout)))
	}
	fmt.Fprintf(&s.b, `<text class="unit" x="%d" y="%d" text-anchor="end">UTC</text>`, padLeft-6, bottom+16)
	s.b.WriteString(`</g>`)
}
