package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints results as an aligned text table.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tp50 s\tp95 s\tp99 s\t>10s\t>60s\t>120s\tcost/floor\twarm cost\tidle\tinterrupted\tcold\twarm\twarm fills\tcap.fail\tpeak nodes\tforecast err\t")
	for _, r := range results {
		fe := "-"
		if r.ForecastError != nil {
			fe = fmt.Sprintf("%.2f", *r.ForecastError)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.1f%%\t%.1f%%\t%.1f%%\t%.2f\t%.1f%%\t%.0f%%\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Name, r.P50WaitS, r.P95WaitS, r.P99WaitS, 100*r.Over10s, 100*r.Over60s, 100*r.Over120s,
			r.CostRatio, 100*r.WarmCost/max(r.Cost, 1e-12), 100*r.IdleRatio, r.InterruptedJobs, r.LaunchesCold, r.LaunchesWarm, r.WarmFills, r.CapacityFailures, r.PeakNodes, fe)
	}
	return tw.Flush()
}
