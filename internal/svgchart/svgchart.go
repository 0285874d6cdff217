// Package svgchart draws the operator page's charts as inline SVG, on the
// server: time series as lines or stacked bars over a time axis, and
// labelled horizontal bars. It needs no script and no fetched asset, so the
// page works offline and under a CSP that forbids scripts.
//
// Colours come from the page: axes and text use currentColor, series use
// the classes s0, s1, … that the page's stylesheet maps to CSS variables,
// so one chart reads in light and dark schemes. Every label is escaped:
// release names are user input.
package svgchart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Geometry of every chart, in SVG user units; the page scales the whole.
const (
	Width      = 640
	Height     = 260
	padLeft    = 60
	padRight   = 16
	padTop     = 34 // title and legend
	padBottom  = 26 // time axis labels
	plotWidth  = Width - padLeft - padRight
	plotHeight = Height - padTop - padBottom
	maxSeries  = 6 // the page's stylesheet defines s0…s5
)

// svg collects a chart's elements.
type svg struct {
	b strings.Builder
}

// open starts the chart's element: id names it for the page and tests,
// the title is read out by screen readers and shown above the plot.
func (s *svg) open(id, title string, height int) {
	fmt.Fprintf(&s.b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		esc(id), Width, height, Width, height, esc(title))
	fmt.Fprintf(&s.b, `<title>%s</title>`, esc(title))
	fmt.Fprintf(&s.b, `<text class="title" x="0" y="14">%s</text>`, esc(title))
}

func (s *svg) close() template.HTML {
	s.b.WriteString(`</svg>`)
	// Every text in s went through esc; the markup around it is ours.
	return template.HTML(s.b.String())
}

// legend writes one swatch and name per series, right-aligned above the plot.
func (s *svg) legend(names []string) {
	x := float64(Width)
	for i := len(names) - 1; i >= 0; i-- {
		x -= float64(textWidth(names[i]) + 22)
		fmt.Fprintf(&s.b, `<g class="legend"><rect class="%s" x="%.1f" y="5" width="10" height="10"/><text x="%.1f" y="14">%s</text></g>`,
			class(i), x, x+14, esc(names[i]))
	}
}

// valueAxis writes the horizontal grid lines and labels of a y axis from 0
// to top in steps of step, with the unit above the labels.
func (s *svg) valueAxis(top, step float64, unit string) {
	s.b.WriteString(`<g class="axis">`)
	// Counted, not summed up to top: near the largest float, top+step is
	// +Inf and a sum would never pass it.
	ticks := int(math.Round(top / step))
	for i := 0; i <= ticks; i++ {
		v := float64(i) * step
		y := yOf(v, top)
		fmt.Fprintf(&s.b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padLeft, y, Width-padRight, y)
		fmt.Fprintf(&s.b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y+4, esc(formatValue(v, step)))
	}
	fmt.Fprintf(&s.b, `<text class="unit" x="0" y="%d">%s</text>`, padTop-6, esc(unit))
	fmt.Fprintf(&s.b, `<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, padTop, padLeft, padTop+plotHeight)
	s.b.WriteString(`</g>`)
}

// empty says so inside the plot, so that an empty chart is not mistaken
// for a chart of zeros.
func (s *svg) empty(height int) {
	fmt.Fprintf(&s.b, `<text class="empty" x="%d" y="%d" text-anchor="middle">no data in this window</text>`,
		Width/2, height/2)
}

func yOf(v, top float64) float64 {
	return float64(padTop+plotHeight) - v/top*float64(plotHeight)
}

// NiceScale returns a step of 1, 2 or 5 times a power of ten and the
// multiple of it at or above max, such that about n steps cover max.
func NiceScale(max float64, n int) (step, top float64) {
	if !(max > 0) || math.IsInf(max, 0) {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	top = math.Ceil(max/step-1e-9) * step
	if math.IsInf(top, 0) {
		// The nice multiple is past the largest float: n plain steps.
		return max / float64(n), max
	}
	return step, top
}

// formatValue prints a tick value with as many decimals as the step needs.
func formatValue(v, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// FormatValue prints a value for a tooltip: up to three significant decimals.
func FormatValue(v float64) string {
	switch {
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func class(i int) string { return "s" + strconv.Itoa(i%maxSeries) }

// textWidth estimates a label's width in user units at the page's 11px
// chart font; it only spaces the legend.
func textWidth(s string) int { return 7 * len([]rune(s)) }

// esc escapes text for SVG's text and attribute values; invalid UTF-8 and
// control characters, which XML forbids, become U+FFFD.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r == 0xfffe || r == 0xffff {
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
	return template.HTMLEscapeString(s)
}
