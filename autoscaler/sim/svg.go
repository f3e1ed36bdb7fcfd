package sim

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// WriteSVG draws demand (jobs queued or running), the fleet (slots alive)
// of each result and the queue of the first result over time, as a plain
// SVG line chart. Results need Series (Scenario.Samples > 0).
func WriteSVG(w io.Writer, title string, results []Result) error {
	const (
		width, height = 1200.0, 420.0
		left, right   = 60.0, 180.0
		top, bottom   = 40.0, 40.0
	)
	if len(results) == 0 || len(results[0].Series) == 0 {
		return fmt.Errorf("svg: no time series (run with samples)")
	}
	first := results[0].Series
	from, to := first[0].At, first[len(first)-1].At
	peak := 1
	for _, r := range results {
		for _, s := range r.Series {
			peak = max(peak, s.Demand, s.Slots)
		}
	}
	span := max(to.Sub(from), time.Second)
	x := func(t time.Time) float64 {
		return left + (width-left-right)*float64(t.Sub(from))/float64(span)
	}
	y := func(v int) float64 { return height - bottom - (height-top-bottom)*float64(v)/float64(peak) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15">%s</text>`+"\n", left, html.EscapeString(title))
	// Axes and a few gridlines.
	for i := 0; i <= 4; i++ {
		v := peak * i / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%d</text>`+"\n",
			left, width-right, y(v), y(v), left-6, y(v)+4, v)
	}
	for i := 0; i <= 4; i++ {
		t := from.Add(span * time.Duration(i) / 4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(t), height-bottom+18, t.UTC().Format("2006-01-02 15:04"))
	}
	colors := []string{"#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"}
	type line struct {
		name, color, dash string
		pts               []Sample
		val               func(Sample) int
	}
	lines := []line{{name: "demand (queued + running)", color: "#444", pts: first, val: func(s Sample) int { return s.Demand }}}
	for i, r := range results {
		lines = append(lines, line{name: "fleet slots: " + r.Name, color: colors[i%len(colors)], pts: r.Series, val: func(s Sample) int { return s.Slots }})
	}
	lines = append(lines, line{name: "queue: " + results[0].Name, color: "#d62728", dash: "4 2", pts: first, val: func(s Sample) int { return s.Queue }})
	for i, l := range lines {
		var pts strings.Builder
		for _, s := range l.pts {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(s.At), y(l.val(s)))
		}
		dash := ""
		if l.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.dash)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.2"%s points="%s"/>`+"\n", l.color, dash, strings.TrimSpace(pts.String()))
		ly := top + 16*float64(i)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.1f">%s</text>`+"\n",
			width-right+10, width-right+30, ly, ly, l.color, dash, width-right+34, ly+4, html.EscapeString(l.name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
