package svgchart

import (
	"fmt"
	"html/template"
)

// Bar is one labelled value of a bar chart.
type Bar struct {
	Label string
	Value float64
}

// BarChart draws horizontal bars, one per label, in the given order.
type BarChart struct {
	ID, Title, Unit string
	Bars            []Bar
}

// Geometry of a bar chart's rows; its height grows with the bars.
const (
	barRow      = 22
	barLabelW   = 180 // labels longer than this are cut, the full one is in the tooltip
	barValueW   = 56
	barMaxLabel = 24 // runes
)

// Render draws the chart.
func (c BarChart) Render() template.HTML {
	height := padTop + barRow*max(len(c.Bars), 2) + 8
	var s svg
	s.open(c.ID, c.Title, height)
	s.legend([]string{c.Unit})
	if len(c.Bars) == 0 {
		s.empty(height)
		return s.close()
	}
	top := 0.0
	for _, b := range c.Bars {
		top = max(top, b.Value)
	}
	if top <= 0 {
		top = 1
	}
	span := float64(Width - barLabelW - barValueW)
	s.b.WriteString(`<g class="axis">`)
	fmt.Fprintf(&s.b, `<line x1="%d" y1="%d" x2="%d" y2="%d"/>`, barLabelW, padTop, barLabelW, padTop+barRow*len(c.Bars))
	s.b.WriteString(`</g>`)
	for i, b := range c.Bars {
		y := padTop + i*barRow
		label := b.Label
		if r := []rune(label); len(r) > barMaxLabel {
			label = string(r[:barMaxLabel-1]) + "…"
		}
		w := b.Value / top * span
		fmt.Fprintf(&s.b, `<g class="row"><title>%s: %s %s</title>`, esc(b.Label), esc(FormatValue(b.Value)), esc(c.Unit))
		fmt.Fprintf(&s.b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, barLabelW-6, y+15, esc(label))
		if b.Value > 0 {
			fmt.Fprintf(&s.b, `<rect class="bar s0" x="%d" y="%d" width="%.2f" height="%d" data-value="%s"/>`,
				barLabelW, y+3, max(w, 1), barRow-6, esc(FormatValue(b.Value)))
		}
		fmt.Fprintf(&s.b, `<text x="%.2f" y="%d">%s</text></g>`, float64(barLabelW)+w+6, y+15, esc(FormatValue(b.Value)))
	}
	return s.close()
}
