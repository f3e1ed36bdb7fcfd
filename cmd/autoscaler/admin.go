package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
)

// adminFlags locate the control plane's admin listener and its token.
type adminFlags struct {
	admin     string
	tokenFile string
	caFile    string
}

func (a *adminFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.admin, "admin", "http://127.0.0.1:8781", "the control plane's admin address (https://… when it serves [tls])")
	cmd.Flags().StringVar(&a.tokenFile, "admin-token-file", "/etc/runfleet/admin-token", "file holding the admin token (admin_token_file of the control plane)")
	registerCAFlag(cmd, &a.caFile)
}

func registerCAFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "ca-file", "", "PEM CA bundle the admin address's certificate must chain to (default: the system roots)")
}

// adminClient is the HTTP client of the admin commands.
func adminClient(caFile string) (*http.Client, error) {
	cfg, err := serve.ClientTLS(caFile, "", "")
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

func newCordonCmd() *cobra.Command {
	var a adminFlags
	var undo bool
	cmd := &cobra.Command{
		Use:   "cordon NODE",
		Short: "Stop a node from taking new jobs (its running jobs go on); --undo lifts the cordon",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := controlplane.PathAdminCordon
			if undo {
				path = controlplane.PathAdminUncordon
			}
			return adminAction(cmd.Context(), cmd.OutOrStdout(), a, path, args[0])
		},
	}
	a.register(cmd)
	cmd.Flags().BoolVar(&undo, "undo", false, "lift the cordon")
	return cmd
}

func newDrainCmd() *cobra.Command {
	var a adminFlags
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Drain a node: it finishes its running jobs, takes no new ones, and is then terminated",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return adminAction(cmd.Context(), cmd.OutOrStdout(), a, controlplane.PathAdminDrain, args[0])
		},
	}
	a.register(cmd)
	return cmd
}

// adminAction posts one admin action for node and prints the node's state.
func adminAction(ctx context.Context, w io.Writer, a adminFlags, pattern, node string) error {
	tok, err := readSecret("--admin-token-file", a.tokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimSuffix(a.admin, "/") + strings.Replace(pattern, "{name}", url.PathEscape(node), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set(fleetapi.HeaderAuthorization, fleetapi.BearerPrefix+tok)
	hc, err := adminClient(a.caFile)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("control plane at %s: %w", a.admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e fleetapi.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("control plane at %s: HTTP %d: %s", a.admin, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("control plane at %s: HTTP %d", a.admin, resp.StatusCode)
	}
	var st fleetapi.NodeStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("control plane at %s: %w", a.admin, err)
	}
	conds := make([]string, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, c.Type)
	}
	action := pattern[strings.LastIndex(pattern, "/")+1:]
	fmt.Fprintf(w, "%s: %s (state %s, busy %d/%d, conditions [%s])\n", st.Name, action, st.State, st.Busy, st.Slots, strings.Join(conds, ","))
	return nil
}
