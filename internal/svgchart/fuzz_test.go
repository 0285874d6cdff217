package svgchart

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// allowedElements are the only elements a chart writes: text that would
// open any other (a script, an image, a foreignObject) was not escaped.
var allowedElements = map[string]bool{"svg": true, "title": true, "text": true, "g": true, "rect": true,
	"line": true, "path": true, "circle": true}

// FuzzChartText renders charts whose every label, title, unit and value
// comes from the fuzzer: each must be well-formed XML made only of the
// chart's own elements, with no attribute beyond the chart's own.
func FuzzChartText(f *testing.F) {
	f.Add("stable", "rounds/min", 1.5)
	f.Add(`"><script>alert(1)</script>`, `<img src=x onerror=alert(2)>`, 3.0)
	f.Add("]]><![CDATA[", "&amp;&#x3c;", -1.0)
	f.Add("\x00\xff\xfe", "\u202e", math.Inf(1))
	f.Add("'onload='alert(1)", "{{.}}", math.NaN())
	f.Fuzz(func(t *testing.T, label, unit string, value float64) {
		start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
		charts := []string{
			string(TimeChart{ID: label, Title: label, Unit: unit, Start: start, End: start.Add(time.Hour), Step: time.Minute,
				Series: []Series{{Name: label, Points: []Point{{start, value}, {start.Add(time.Minute), 1}}}}}.Render()),
			string(TimeChart{ID: label, Title: unit, Unit: label, Start: start, End: start.Add(time.Hour), Step: time.Minute,
				Style: StackedBars, Series: []Series{{Name: unit, Points: []Point{{start, value}}}}}.Render()),
			string(BarChart{ID: unit, Title: label, Unit: unit, Bars: []Bar{{label, value}, {unit, 2}}}.Render()),
		}
		for _, out := range charts {
			dec := xml.NewDecoder(strings.NewReader(out))
			dec.Strict = true
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("not well-formed: %v\n%s", err, out)
				}
				if el, ok := tok.(xml.StartElement); ok {
					if !allowedElements[el.Name.Local] {
						t.Fatalf("element %q in\n%s", el.Name.Local, out)
					}
					for _, a := range el.Attr {
						if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") || a.Name.Local == "href" {
							t.Fatalf("attribute %q in\n%s", a.Name.Local, out)
						}
					}
				}
			}
		}
	})
}
