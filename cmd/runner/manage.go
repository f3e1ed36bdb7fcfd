package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "runfleet"
	}
	return h
}

func newListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the runners in the config file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Read(g.config)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tEXECUTOR\tURL\tTOKEN\tLIMIT")
			for _, r := range f.Runners {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s…\t%d\n", r.Name, r.Executor, r.URL, tokenPrefix(r.Token), r.Limit)
			}
			return w.Flush()
		},
	}
}

// tokenPrefix shows enough of a token to tell runners apart, never all of it.
func tokenPrefix(t string) string {
	n := 13
	if !strings.HasPrefix(t, "glrt-") {
		n = 8
	}
	if len(t) < n {
		n = len(t) / 2
	}
	return t[:n]
}

func newVerifyCmd(g *globalFlags) *cobra.Command {
	var del bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every runner's token with GitLab; --delete removes runners GitLab no longer knows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, systemID, err := g.registrations()
			if err != nil {
				return err
			}
			invalid := map[string]bool{} // by token
			var bad int
			for _, r := range f.Runners {
				client, err := g.runnerClient(r)
				if err != nil {
					return err
				}
				_, err = client.Verify(cmd.Context(), r.Token, systemID, versionInfo(r.Name))
				switch {
				case err == nil:
					fmt.Fprintf(cmd.OutOrStdout(), "Verifying runner %s... is valid\n", r.Name)
				case errors.Is(err, gitlab.ErrForbidden):
					fmt.Fprintf(cmd.OutOrStdout(), "Verifying runner %s... is removed or its token is invalid\n", r.Name)
					invalid[r.Token] = true
					bad++
				default:
					return fmt.Errorf("verifying runner %s: %w", r.Name, err)
				}
			}
			if del && bad > 0 {
				// The rest of the file, gitlab-runner's keys included, is kept.
				if _, err := config.RemoveRunners(g.config, func(r config.RunnerFile) bool { return invalid[r.Token] }); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Removed %d runner(s) from %s\n", bad, g.config)
			}
			if bad > 0 && !del {
				return fmt.Errorf("%d runner(s) have invalid tokens (use --delete to remove them)", bad)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&del, "delete", false, "remove runners whose tokens GitLab rejects")
	return cmd
}

func newUnregisterCmd(g *globalFlags) *cobra.Command {
	var name, token string
	var all bool
	cmd := &cobra.Command{
		Use:   "unregister",
		Short: "Unregister runners from GitLab and remove them from the config file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all && name == "" && token == "" {
				return errors.New("name a runner with --name or --token, or pass --all-runners")
			}
			f, systemID, err := g.registrations()
			if err != nil {
				return err
			}
			match := func(r config.RunnerFile) bool { return all || r.Name == name || r.Token == token }
			var removed int
			for _, r := range f.Runners {
				if !match(r) {
					continue
				}
				client, err := g.runnerClient(r)
				if err != nil {
					return err
				}
				if strings.HasPrefix(r.Token, "glrt-") {
					err = client.UnregisterManager(cmd.Context(), r.Token, systemID)
				} else {
					err = client.UnregisterRunner(cmd.Context(), r.Token)
				}
				if err != nil && !errors.Is(err, gitlab.ErrForbidden) {
					return fmt.Errorf("unregistering %s (config untouched): %w", r.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Unregistered runner %s\n", r.Name)
				removed++
			}
			if removed == 0 {
				return errors.New("no runner matched")
			}
			_, err = config.RemoveRunners(g.config, match) // the rest of the file is kept
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "runner name")
	cmd.Flags().StringVarP(&token, "token", "t", "", "runner token")
	cmd.Flags().BoolVar(&all, "all-runners", false, "unregister every runner in the config")
	return cmd
}

// registrations reads the config file and this machine's system id.
func (g *globalFlags) registrations() (config.File, string, error) {
	f, err := config.Read(g.config)
	if err != nil {
		return f, "", err
	}
	id, err := gitlab.LoadOrCreateSystemID(systemIDPath(g.config))
	return f, id, err
}

// client returns a GitLab API client for url.
func (g *globalFlags) client(url string) (*gitlab.Client, error) {
	return gitlab.NewClient(gitlab.ClientOptions{BaseURL: url, UserAgent: "runfleet/" + version, Logger: newLogger(g.logLevel, g.logJSON)})
}

// runnerClient returns a GitLab API client for a registered runner, with
// its tls-ca-file and client certificate.
func (g *globalFlags) runnerClient(r config.RunnerFile) (*gitlab.Client, error) {
	tlsConfig, err := config.Runner{TLSCAFile: r.TLSCAFile, TLSCertFile: r.TLSCertFile, TLSKeyFile: r.TLSKeyFile}.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", r.Name, err)
	}
	return gitlab.NewClient(gitlab.ClientOptions{
		BaseURL: r.URL, UserAgent: "runfleet/" + version, Logger: newLogger(g.logLevel, g.logJSON), TLSConfig: tlsConfig,
	})
}
