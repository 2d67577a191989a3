package backtest

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/riskgate/riskgate/engine"
)

// The HTML report is one self-contained page: styles inline, charts inline
// SVG computed here, no fetch of any kind (its Content-Security-Policy
// forbids them), so it can be attached to a change request or opened from
// a CI artefact offline. Its only script checks, once loaded, that every
// chart has a size, and says so in the document (data-charts-rendered),
// which the browser test reads.

//go:embed report.html.tmpl
var reportTemplate string

// selfCheck is the page's script; the CSP allows it by hash and nothing
// else.
// It also counts the charts' texts drawn outside their chart
// (data-charts-clipped), which the browser cuts off: a rule id too long
// for its column.
const selfCheck = `(function(){var n=0,c=0;document.querySelectorAll("svg.chart").forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0){n++;}var r=s.getBoundingClientRect();s.querySelectorAll("text").forEach(function(t){var q=t.getBoundingClientRect();if(q.left<r.left-0.5||q.right>r.right+0.5){c++;}});});document.documentElement.setAttribute("data-charts-rendered",String(n));document.documentElement.setAttribute("data-charts-clipped",String(c));})();`

// page is parsed at the first report, not at init: every process that
// links the package (serve does, for the Backtest API) would otherwise pay
// about half a millisecond of its start for a page it may never render.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"pct":      func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
		"pctOf":    pct,
		"reasons":  reasonList,
		"short":    short,
		"delta":    delta,
		"failures": func(rr RuleReport, attempts int) string { return rr.failures(attempts) },
	}).Parse(reportTemplate))
})

// view is what the template renders.
type view struct {
	R            *Report
	CSP          string
	Script       template.JS
	Matrix       matrixChart
	Rules        barChart
	Hist         histChart
	Rates        []rateRow
	LabelRows    []labelRow
	ChartsWanted int
	// Tenants is set when a sample is of another tenant than the default
	// one: the samples then have a tenant column.
	Tenants bool
}

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	sum := sha256.Sum256([]byte(selfCheck))
	v := view{
		R:      r,
		CSP:    "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		Script: template.JS(selfCheck),
		Matrix: newMatrixChart(r.Transitions),
		Rules:  newBarChart(r.Rules),
		Hist:   newHistChart(&r.Scores),
	}
	v.ChartsWanted = 3
	v.Tenants = r.tenantSamples()
	for _, l := range sortedLabels(r.Labels) {
		lr := r.Labels[l]
		v.LabelRows = append(v.LabelRows, labelRow{Label: l, L: lr, Changed: lr.Total - diagonal(lr.Transitions)})
	}
	if r.Friction != nil {
		v.Rates = append(v.Rates, rateRow{Name: "Friction: legitimate attempts stepped up or denied", BA: *r.Friction, Good: r.Friction.After <= r.Friction.Before})
	}
	if r.Catch != nil {
		v.Rates = append(v.Rates, rateRow{Name: "Catch rate: attacks stepped up or denied", BA: *r.Catch, Good: r.Catch.After >= r.Catch.Before})
	}
	if err := page().Execute(w, &v); err != nil {
		return fmt.Errorf("backtest: html: %w", err)
	}
	return nil
}

type rateRow struct {
	Name string
	BA   BeforeAfter
	Good bool
}

type labelRow struct {
	Label   string
	L       *LabelReport
	Changed int
}

// matrixChart is the 3×3 transition matrix as an SVG grid.
type matrixChart struct {
	W, H  int
	Cells []matrixCell
	Heads []svgText
}

type matrixCell struct {
	X, Y, W, H int
	Fill       string
	Count      int
	Share      string
	Title      string
	TX, TY     int
	Dark       bool
}

type svgText struct {
	X, Y   int
	Text   string
	Anchor string
	Rotate bool
}

func newMatrixChart(m Matrix) matrixChart {
	const left, top, cw, ch = 110, 56, 120, 64
	c := matrixChart{W: left + 3*cw + 10, H: top + 3*ch + 10}
	max := 1
	for _, a := range Actions {
		for _, b := range Actions {
			if a != b && m[a.String()][b.String()] > max {
				max = m[a.String()][b.String()]
			}
		}
	}
	c.Heads = append(c.Heads, svgText{X: left + 3*cw/2, Y: 16, Text: "candidate →", Anchor: "middle"})
	for j, b := range Actions {
		c.Heads = append(c.Heads, svgText{X: left + j*cw + cw/2, Y: top - 10, Text: b.String(), Anchor: "middle"})
	}
	for i, a := range Actions {
		c.Heads = append(c.Heads, svgText{X: left - 10, Y: top + i*ch + ch/2 + 5, Text: a.String(), Anchor: "end"})
		row := 0
		for _, b := range Actions {
			row += m[a.String()][b.String()]
		}
		for j, b := range Actions {
			n := m[a.String()][b.String()]
			cell := matrixCell{X: left + j*cw, Y: top + i*ch, W: cw - 4, H: ch - 4, Count: n, Share: pct(n, row)}
			cell.TX, cell.TY = cell.X+cell.W/2, cell.Y+cell.H/2
			cell.Title = fmt.Sprintf("%s → %s: %d attempts (%s of the baseline's %s)", a, b, n, cell.Share, a)
			// Intensity by the logarithm of the count, so that a handful
			// of changes still shows next to thousands.
			t := 0.0
			if n > 0 {
				t = 0.15 + 0.85*math.Log1p(float64(n))/math.Log1p(float64(max))
			}
			switch {
			case a == b:
				cell.Fill = "#eef1f4"
			case b > a: // stricter
				cell.Fill = mix("#fff4e5", "#d9480f", t)
				cell.Dark = t > 0.55
			default: // more lenient
				cell.Fill = mix("#e6f6ee", "#2b8a3e", t)
				cell.Dark = t > 0.55
			}
			c.Cells = append(c.Cells, cell)
		}
	}
	c.Heads = append(c.Heads, svgText{X: 14, Y: top + 3*ch/2, Text: "baseline →", Anchor: "middle", Rotate: true})
	return c
}

// barChart is per-rule matches before and after, as horizontal bars.
// The rule ids are right-aligned at LabelX, left of the bars at Left.
type barChart struct {
	W, H         int
	Left, LabelX int
	Rows         []barRow
	Omitted      int
	Scale        int
}

type barRow struct {
	Y, AfterY, LabelY, ValueX int
	Label                     string
	BeforeW, AfterW           int
	Before, After             int
	Title                     string
}

// maxBars keeps the chart readable: the rules that changed most.
const maxBars = 30

// labelWidth is a generous width in pixels of a rule id at the chart's
// 12px (DejaVu Sans, the widest of the usual system-ui fonts, measured in
// Chromium, rounded up), so that the longest id fits its column.
func labelWidth(id string) int {
	w := 0
	for _, c := range id {
		switch c {
		case 'm':
			w += 12
		case 'w':
			w += 10
		case 'i', 'j', 'l', '.':
			w += 4
		case 'f', 'r', 't', '-':
			w += 5
		default: // other letters, digits, '_', and anything wider
			w += 8
		}
	}
	return w
}

func newBarChart(rules []RuleReport) barChart {
	const width, row = 420, 26
	var rs []RuleReport
	for _, r := range rules {
		if r.Before.Matches > 0 || r.After.Matches > 0 {
			rs = append(rs, r)
		}
	}
	omitted := 0
	if len(rs) > maxBars {
		omitted, rs = len(rs)-maxBars, rs[:maxBars]
	}
	// The label column fits the longest id shown (ids are up to 64
	// characters): at a fixed 240 pixels, a long id was cut off at the
	// chart's left edge.
	left := 240
	for _, r := range rs {
		left = max(left, 16+labelWidth(r.ID))
	}
	c := barChart{W: left + width + 150, Left: left, LabelX: left - 8, Omitted: omitted}
	max := 1
	for _, r := range rs {
		max = maxInt(max, r.Before.Matches, r.After.Matches)
	}
	c.Scale = max
	for i, r := range rs {
		y := 8 + i*row
		br := barRow{
			Y: y, AfterY: y + 11, LabelY: y + 14, Label: r.ID, Before: r.Before.Matches, After: r.After.Matches,
			BeforeW: scaled(r.Before.Matches, max, width), AfterW: scaled(r.After.Matches, max, width),
			Title: fmt.Sprintf("%s: %d matches before, %d after (%s)", r.ID, r.Before.Matches, r.After.Matches, modeChange(r)),
		}
		br.ValueX = left + 6 + maxInt(br.BeforeW, br.AfterW)
		c.Rows = append(c.Rows, br)
	}
	c.H = 16 + len(rs)*row
	if len(rs) == 0 {
		c.H = 30
	}
	return c
}

// histChart is the score histograms before and after, side by side per
// bin, on a logarithmic scale (most logins score 0).
type histChart struct {
	W, H  int
	Bars  []histBar
	Ticks []histTick
	Axis  []svgText
	Base  int
}

type histBar struct {
	X, Y, W, H int
	After      bool
	Title      string
}

type histTick struct {
	Y     int
	Label string
}

func newHistChart(h *Histograms) histChart {
	const left, top, plotH, binW = 56, 10, 220, 34
	c := histChart{W: left + HistogramBins*binW + 10, H: top + plotH + 40, Base: top + plotH}
	max := 1
	for i := range h.Before {
		max = maxInt(max, h.Before[i], h.After[i])
	}
	logMax := math.Log10(float64(max) + 1)
	height := func(n int) int {
		if n == 0 {
			return 0
		}
		return int(math.Max(1, math.Round(float64(plotH)*math.Log10(float64(n)+1)/logMax)))
	}
	for p := 1; p <= max; p *= 10 {
		c.Ticks = append(c.Ticks, histTick{Y: top + plotH - height(p), Label: humanCount(p)})
	}
	for i := range h.Bins {
		x := left + i*binW
		if i%2 == 0 {
			c.Axis = append(c.Axis, svgText{X: x + binW/2, Y: top + plotH + 16, Text: fmt.Sprint(h.Bins[i])})
		}
		lo, hi := h.Bins[i], h.Bins[i]+4
		name := fmt.Sprintf("%d–%d", lo, hi)
		if i == HistogramBins-1 {
			name = "100"
		}
		for j, n := range []int{h.Before[i], h.After[i]} {
			bh := height(n)
			c.Bars = append(c.Bars, histBar{
				X: x + 3 + j*14, Y: top + plotH - bh, W: 13, H: bh, After: j == 1,
				Title: fmt.Sprintf("score %s: %d attempts %s", name, n, [2]string{"before", "after"}[j]),
			})
		}
	}
	return c
}

func scaled(n, max, width int) int {
	if n == 0 {
		return 0
	}
	return int(math.Max(1, math.Round(float64(width)*float64(n)/float64(max))))
}

func maxInt(a int, bs ...int) int {
	for _, b := range bs {
		a = max(a, b)
	}
	return a
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// mix blends two #rrggbb colours: t = 0 is a, 1 is b.
func mix(a, b string, t float64) string {
	var ca, cb [3]int
	fmt.Sscanf(a, "#%02x%02x%02x", &ca[0], &ca[1], &ca[2])
	fmt.Sscanf(b, "#%02x%02x%02x", &cb[0], &cb[1], &cb[2])
	var out strings.Builder
	out.WriteByte('#')
	for i := range ca {
		fmt.Fprintf(&out, "%02x", int(math.Round(float64(ca[i])+t*float64(cb[i]-ca[i]))))
	}
	return out.String()
}

func reasonList(rs []engine.Reason) string { return reasons(rs) }

// delta renders a rate's change in percentage points.
func delta(ba BeforeAfter) string {
	d := 100 * (ba.After - ba.Before)
	return fmt.Sprintf("%+.2f pp", d)
}
