package gitlab

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/runfleet/runfleet/executors"
)

// gitStrategy is GIT_STRATEGY: how the build directory gets the sources.
type gitStrategy string

const (
	gitFetch gitStrategy = "fetch"
	gitClone gitStrategy = "clone"
	gitNone  gitStrategy = "none"
)

// sourcesRequest is what fetching a job's sources needs.
//
// Sources arrive in two halves so that no command a job can influence runs
// on the host:
//
//  1. The agent fetches from GitLab into Store, a bare repository of the
//     slot that no job container ever mounts writable (gitstore.go). git
//     runs there with an environment built from nothing, hooks and
//     fsmonitor off, and the job token in its environment only.
//  2. A helper container (Helper, gitcheckout.go) that sees the project
//     directory and the store (read-only), with no network and no token,
//     disarms whatever a previous job left in the project's .git, fetches
//     from the store, checks the job's commit out and cleans.
type sourcesRequest struct {
	Dir      string // host path of the project directory
	Store    string // host path of the slot's private bare repository
	Info     GitInfo
	Strategy gitStrategy
	Depth    int
	// Checkout false leaves the work tree alone (GIT_CHECKOUT=false).
	Checkout   bool
	CleanFlags []string
	Out        io.Writer
	// Helper runs the checkout half in a container.
	Helper helperRunner
	// TLS is the runner's CA and client certificate for GitLab.
	TLS gitTLS
	// Mark, when set, records the phases reached (jobPhases.mark).
	Mark func(phase string)
}

// helperRunner creates the helper container of one checkout: it mounts
// the project directory and the store read-only at helperStoreDir.
type helperRunner interface {
	prepareHelper(ctx context.Context, h helperJob) (helperContainer, error)
}

// helperContainer is a created helper whose checkout has not run yet.
type helperContainer interface {
	// run runs the checkout, streaming its output to the job's Out.
	run(ctx context.Context) (executors.Result, error)
	// release removes the container, off the job's critical path.
	release()
}

// ErrCheckout means the helper container could not bring the project
// directory to the job's commit.
var ErrCheckout = errors.New("checking out the sources failed")

// fetchSources brings Dir to the job's sha.
func fetchSources(ctx context.Context, r sourcesRequest) error {
	if r.Strategy == gitNone {
		fmt.Fprintln(r.Out, "Skipping Git repository setup (GIT_STRATEGY=none)")
		return os.MkdirAll(r.Dir, 0o755)
	}
	remote, header, err := splitCredentials(r.Info.RepoURL)
	if err != nil {
		return err
	}
	if r.Strategy == gitClone {
		// The store is the agent's alone: removing it is safe. The project
		// directory may already be mounted in the job container, so the
		// helper empties it from inside.
		if err := os.RemoveAll(r.Store); err != nil {
			return fmt.Errorf("remove the source store: %w", err)
		}
	}
	// The helper mounts the store: it must exist before the container.
	if err := openStore(ctx, r.Store, r.Out); err != nil {
		return err
	}
	// The helper container is created while git fetches: the engine's
	// work overlaps the network's.
	type prepared struct {
		h   helperContainer
		err error
	}
	ready := make(chan prepared, 1)
	go func() {
		h, err := r.Helper.prepareHelper(ctx, helperJob{
			Remote: remote, Sha: r.Info.Sha, Clone: r.Strategy == gitClone,
			Checkout: r.Checkout, CleanFlags: r.CleanFlags, Out: r.Out,
		})
		r.mark("helper_created")
		ready <- prepared{h, err}
	}()
	fmt.Fprintf(r.Out, "Fetching changes from %s\n", remote)
	fetchErr := fetchStore(ctx, storeFetch{
		Store: r.Store, Remote: remote, AuthHeader: header,
		Refspecs: r.Info.Refspecs, Depth: r.Depth, Out: r.Out, TLS: r.TLS,
	})
	r.mark("store_fetched")
	p := <-ready
	if p.err != nil {
		return errors.Join(fetchErr, p.err)
	}
	defer p.h.release()
	if fetchErr != nil {
		return fetchErr
	}
	if r.Checkout {
		fmt.Fprintf(r.Out, "Checking out %.8s as detached HEAD (ref is %s)...\n", r.Info.Sha, r.Info.Ref)
	} else {
		fmt.Fprintln(r.Out, "Skipping Git checkout (GIT_CHECKOUT=false)")
	}
	res, err := p.h.run(ctx)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%w: the sources helper exited with %d", ErrCheckout, res.ExitCode)
	}
	return nil
}

func (r sourcesRequest) mark(phase string) {
	if r.Mark != nil {
		r.Mark(phase)
	}
}

// splitCredentials removes user:password from a repository URL and turns
// it into an Authorization header value.
func splitCredentials(raw string) (remote, header string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("git_info.repo_url: %w", err)
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
		u.User = nil
	}
	return u.String(), header, nil
}
