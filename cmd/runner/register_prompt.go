package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// promptRegistration asks on the terminal (stdin) for what the flags left
// out, as `gitlab-runner register` does: the URL, the token, the runner's
// name, the executor and the default image. An empty answer takes the
// value in brackets.
func promptRegistration(cmd *cobra.Command, f *registerFlags, gf *githubRegisterFlags) error {
	in := bufio.NewReader(cmd.InOrStdin())
	out := cmd.ErrOrStderr()
	ask := func(question, def string) (string, error) {
		if def != "" {
			fmt.Fprintf(out, "%s [%s]: ", question, def)
		} else {
			fmt.Fprintf(out, "%s: ", question)
		}
		line, err := in.ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return "", fmt.Errorf("reading the answer to %q: %w (use --non-interactive with flags when there is no terminal)", question, err)
		}
		if line = strings.TrimSpace(line); line == "" {
			return def, nil
		}
		return line, nil
	}
	var err error
	for f.url == "" {
		if f.url, err = ask("Enter the GitLab instance URL (for example, https://gitlab.com/), or a GitHub organization or repository URL", ""); err != nil {
			return err
		}
	}
	github, err := isGitHub(f.url, gf)
	if err != nil {
		return err
	}
	for f.token == "" && gf.tokenFile == "" && gf.appID == 0 {
		q := "Enter the runner authentication token (glrt-…, from GitLab's new runner page)"
		if github {
			q = "Enter a GitHub token that may manage self-hosted runners"
		}
		if f.token, err = ask(q, ""); err != nil {
			return err
		}
	}
	if f.name == "" && !github {
		if f.name, err = ask("Enter a name for the runner (stored only in the local config file)", hostname()); err != nil {
			return err
		}
	}
	if !cmd.Flags().Changed("executor") {
		for {
			if f.executor, err = ask("Enter an executor: docker, containerd", f.executor); err != nil {
				return err
			}
			if f.executor == "docker" || f.executor == "containerd" {
				break
			}
			fmt.Fprintf(out, "Invalid executor %q: runfleet runs jobs with docker or containerd\n", f.executor)
			f.executor = "docker"
		}
	}
	if !cmd.Flags().Changed("docker-image") && !github {
		if f.dockerImage, err = ask("Enter the default job image (for example, debian:bookworm)", f.dockerImage); err != nil {
			return err
		}
	}
	f.nonInteractive = true
	return nil
}

// readTokenFile reads a token from a file, so that it never appears in
// argv or in shell history.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", path)
	}
	return t, nil
}
