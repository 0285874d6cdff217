package svgchart

import (
	"encoding/xml"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNiceScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max       float64
		n         int
		step, top float64
	}{
		{0, 4, 0.5, 1}, {1, 4, 0.5, 1}, {3, 4, 1, 3}, {7, 4, 2, 8}, {10, 4, 5, 10}, {97, 4, 50, 100},
		{0.013, 4, 0.005, 0.015}, {1234, 4, 500, 1500}, {math.NaN(), 4, 0.5, 1}, {math.Inf(1), 4, 0.5, 1},
	} {
		step, top := NiceScale(tc.max, tc.n)
		require.InDelta(t, tc.step, step, 1e-12, "max %v", tc.max)
		require.InDelta(t, tc.top, top, 1e-12, "max %v", tc.max)
	}
	// Near the largest float the nice top would overflow: plain steps.
	step, top := NiceScale(1.6666666666666666e+308, 4)
	require.False(t, math.IsInf(top, 0))
	require.InDelta(t, 1.6666666666666666e+308, top, 1e295)
	require.InDelta(t, 4, top/step, 1e-9)
	require.Equal(t, "0.5", formatValue(0.5, 0.5))
	require.Equal(t, "0.015", formatValue(0.015, 0.005))
	require.Equal(t, "1500", formatValue(1500, 500))
	require.Equal(t, "1.50", FormatValue(1.5))
	require.Equal(t, "0.0123", FormatValue(0.01234))
	require.Equal(t, "42", FormatValue(42))
}

// TestHugeValueAxis: a value near the largest float (FuzzChartText found
// it) draws its axis's five lines and returns, where the axis loop once
// summed steps up to an infinite top and never ended.
func TestHugeValueAxis(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	out := string(TimeChart{ID: "c", Title: "huge", Unit: "u", Start: start, End: start.Add(time.Hour), Step: time.Minute,
		Series: []Series{{Name: "s", Points: []Point{{start, 1.6666666666666666e+308}}}}}.Render())
	require.Equal(t, 5, strings.Count(out, `<line class="grid"`))
}

func TestTimeTicks(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 9, 47, 13, 0, time.UTC)
	for _, tc := range []struct {
		span   time.Duration
		first  string
		step   time.Duration
		layout string
	}{
		{time.Hour, "09:50", 10 * time.Minute, "15:04"},
		{24 * time.Hour, "12:00", 3 * time.Hour, "15:04"},
		{7 * 24 * time.Hour, "Dec 4", 24 * time.Hour, "Jan 2"},
	} {
		ticks, layout := TimeTicks(start, start.Add(tc.span))
		require.Equal(t, tc.layout, layout)
		require.NotEmpty(t, ticks)
		require.LessOrEqual(t, len(ticks), 8, tc.span)
		require.Equal(t, tc.first, ticks[0].Format(layout), tc.span)
		for i := 1; i < len(ticks); i++ {
			require.Equal(t, tc.step, ticks[i].Sub(ticks[i-1]))
		}
		require.True(t, ticks[len(ticks)-1].Before(start.Add(tc.span)))
	}
}

// shapes counts the elements of class "bar" or "pt" whose extent is not
// zero, after checking that the chart is well-formed XML.
func shapes(t *testing.T, svg string) (bars, points int) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, svg)
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
		}
		classes := strings.Fields(attr["class"])
		num := func(k string) float64 {
			v, err := strconv.ParseFloat(attr[k], 64)
			require.NoError(t, err, "%s of %v", k, el)
			return v
		}
		switch {
		case el.Name.Local == "rect" && len(classes) > 0 && classes[0] == "bar":
			if num("width") > 0 && num("height") > 0 {
				bars++
			}
		case el.Name.Local == "circle" && len(classes) > 0 && classes[0] == "pt":
			if num("r") > 0 {
				points++
			}
		}
	}
	return bars, points
}

func TestTimeChart(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	c := TimeChart{ID: "rounds", Title: "Publishes", Unit: "rounds/min", Start: start, End: at(60),
		Step: time.Minute, Style: StackedBars, Series: []Series{
			{Name: "published", Points: []Point{{at(1), 3}, {at(2), 0}, {at(5), 1}}},
			{Name: "failed", Points: []Point{{at(1), 1}, {at(7), 2}, {at(90), 5}}}, // the last is outside
		}}
	out := string(c.Render())
	bars, points := shapes(t, out)
	require.Equal(t, 4, bars, "one rect per non-zero value in the window")
	require.Zero(t, points)
	require.Contains(t, out, `>published</text>`)
	require.Contains(t, out, `>rounds/min</text>`)
	require.NotContains(t, out, "no data")
	// The stack's top at minute 1 is 4: the axis goes to 4.
	require.Contains(t, out, `text-anchor="end">4</text>`)

	c.Style = Lines
	c.Series[0].Points[1].Value = math.NaN() // a gap
	out = string(c.Render())
	bars, points = shapes(t, out)
	require.Zero(t, bars)
	require.Equal(t, 4, points)
	require.Len(t, regexp.MustCompile(`M\d`).FindAllString(out, -1), 3, "the gap splits the first line in two")

	c.Series = []Series{{Name: "published", Points: []Point{{at(1), math.NaN()}}}}
	out = string(c.Render())
	require.Contains(t, out, "no data in this window")
	bars, points = shapes(t, out)
	require.Zero(t, bars+points)
}

func TestBarChart(t *testing.T) {
	t.Parallel()
	c := BarChart{ID: "pending", Title: "Pending changes", Unit: "changes",
		Bars: []Bar{{"acme/web/stable", 12}, {"acme/web/" + strings.Repeat("x", 40), 3}, {"idle", 0}}}
	out := string(c.Render())
	bars, _ := shapes(t, out)
	require.Equal(t, 2, bars)
	require.Contains(t, out, "xxxxxx…</text>", "a long label is cut")
	require.Contains(t, out, strings.Repeat("x", 40)+": 3 changes</title>", "and whole in its tooltip")
	out = string(BarChart{ID: "none", Title: "Nothing"}.Render())
	require.Contains(t, out, "no data in this window")
}

// TestChartsEscape: a label, a title, a unit or an id made of markup stays
// text in every place a chart writes it.
func TestChartsEscape(t *testing.T) {
	t.Parallel()
	const x = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	charts := []string{
		string(TimeChart{ID: x, Title: x, Unit: x, Start: start, End: start.Add(time.Hour), Step: time.Minute,
			Series: []Series{{Name: x, Points: []Point{{start, 1}}}}}.Render()),
		string(TimeChart{ID: x, Title: x, Unit: x, Start: start, End: start.Add(time.Hour), Step: time.Minute,
			Style: StackedBars, Series: []Series{{Name: x, Points: []Point{{start, 1}}}}}.Render()),
		string(BarChart{ID: x, Title: x, Unit: x, Bars: []Bar{{x, 1}, {"<script>", 2}}}.Render()),
	}
	for _, out := range charts {
		for _, bad := range []string{"<script", "<img", `"><script`} {
			require.NotContains(t, out, bad)
		}
		require.Contains(t, out, "&lt;script&gt;")
		shapes(t, out) // still well-formed
	}
}
