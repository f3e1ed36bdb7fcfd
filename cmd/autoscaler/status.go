package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

func newStatusCmd() *cobra.Command {
	var admin, caFile string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the fleet as a table (asks the control plane's admin address)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := fetchStatus(cmd.Context(), admin, caFile)
			if err != nil {
				return err
			}
			return printStatus(cmd.OutOrStdout(), list, time.Now())
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "http://127.0.0.1:8781", "the control plane's admin address (https://… when it serves [tls])")
	registerCAFlag(cmd, &caFile)
	return cmd
}

func fetchStatus(ctx context.Context, admin, caFile string) (fleetapi.NodeList, error) {
	var list fleetapi.NodeList
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(admin, "/")+fleetapi.PathAdminNodes, nil)
	if err != nil {
		return list, err
	}
	hc, err := adminClient(caFile)
	if err != nil {
		return list, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return list, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return list, fmt.Errorf("control plane at %s: HTTP %d", admin, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return list, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	return list, nil
}

func printStatus(w io.Writer, list fleetapi.NodeList, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPOOL\tOFFERING\tSTATE\tBUSY/SLOTS\tCONDITIONS\tAGE\tLAST HEARTBEAT")
	for _, n := range list.Nodes {
		var conds []string
		for _, c := range n.Conditions {
			conds = append(conds, c.Type)
		}
		hb := "-"
		if !n.LastHeartbeat.IsZero() {
			hb = now.Sub(n.LastHeartbeat).Round(time.Second).String() + " ago"
		}
		cs := strings.Join(conds, ",")
		if cs == "" {
			cs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", n.Name, n.Pool, n.Offering, n.State, n.Busy, n.Slots, cs,
			now.Sub(n.LaunchedAt).Round(time.Second), hb)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	pools := make([]string, 0, len(list.Wanted))
	for p := range list.Wanted {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	for _, p := range pools {
		fmt.Fprintf(w, "pool %s: %d slots wanted\n", p, list.Wanted[p])
	}
	for _, q := range list.Queued {
		fmt.Fprintf(w, "queued [%s]: %d\n", strings.Join(q.Labels, ","), q.Count)
	}
	return nil
}
