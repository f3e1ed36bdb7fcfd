package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// storeFetch is one fetch from GitLab into a slot's source store.
type storeFetch struct {
	Store      string // bare repository, created when missing
	Remote     string // repository URL without credentials
	AuthHeader string // "Authorization: Basic …", or empty
	Refspecs   []string
	Depth      int
	Out        io.Writer
	// TLS is the runner's tls-ca-file / tls-cert-file / tls-key-file.
	TLS gitTLS
}

// gitTLS is the TLS material git uses towards GitLab over https.
type gitTLS struct{ CAFile, CertFile, KeyFile string }

// env is t as git's environment variables, which take precedence over
// git's configuration and over the agent's own GIT_SSL_CAINFO.
func (t gitTLS) env() []string {
	var out []string
	for _, kv := range [][2]string{{"GIT_SSL_CAINFO", t.CAFile}, {"GIT_SSL_CERT", t.CertFile}, {"GIT_SSL_KEY", t.KeyFile}} {
		if kv[1] != "" {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	return out
}

// defaultRefspecs are fetched when GitLab sends none.
var defaultRefspecs = []string{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}

// proxyEnv are the only variables of the agent's environment the host's git
// sees: how to reach GitLab, never a token or a cloud credential.
var proxyEnv = []string{
	"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "all_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
}

// fetchStore fetches the job's refspecs into the store. The store lives
// outside every directory a job container mounts, so what git reads there
// (config, hooks, objects) is what the agent wrote or GitLab sent.
func fetchStore(ctx context.Context, f storeFetch) error {
	if err := openStore(ctx, f.Store, f.Out); err != nil {
		return err
	}
	refspecs := f.Refspecs
	if len(refspecs) == 0 {
		refspecs = defaultRefspecs
	}
	args := []string{"fetch", "--prune", "--quiet", "--no-write-fetch-head"}
	if f.Depth > 0 {
		args = append(args, "--depth", strconv.Itoa(f.Depth))
	}
	args = append(append(args, "--", f.Remote), refspecs...)
	return hostGit(ctx, f.Store, f.AuthHeader, f.TLS, f.Out, args...)
}

// openStore makes sure the store is a bare repository of the agent's: a
// directory (not a link) holding a HEAD. Anything else is removed and
// initialised again.
func openStore(ctx context.Context, store string, out io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
		return fmt.Errorf("create the source store: %w", err)
	}
	fi, err := os.Lstat(store)
	if err == nil && fi.IsDir() {
		if head, err := os.Lstat(filepath.Join(store, "HEAD")); err == nil && head.Mode().IsRegular() {
			return nil
		}
	}
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err := os.RemoveAll(store); err != nil {
			return fmt.Errorf("reset the source store: %w", err)
		}
	}
	if err := os.Mkdir(store, 0o700); err != nil {
		return fmt.Errorf("create the source store: %w", err)
	}
	return hostGit(ctx, store, "", gitTLS{}, out, "init", "--quiet", "--bare")
}

// hostGitConfig is set on every git the agent runs: it takes precedence
// over any repository config, so even a store tampered with would neither
// run hooks, a monitor or a helper, nor follow a protocol but HTTP(S).
var hostGitConfig = [][2]string{
	{"core.hooksPath", "/dev/null"},
	{"core.fsmonitor", "false"},
	{"core.sshCommand", "false"},
	{"credential.helper", ""},
	{"protocol.allow", "never"},
	{"protocol.https.allow", "always"},
	{"protocol.http.allow", "always"},
	{"submodule.recurse", "false"},
	{"advice.detachedHead", "false"},
}

// hostGitEnv is the whole environment of the agent's git: built from
// nothing, with the configuration above and, when given, the job token's
// Authorization header — in the environment, never on the command line.
func hostGitEnv(store, authHeader string, lookup func(string) (string, bool)) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=/nonexistent",
		"LC_ALL=C",
		"GIT_DIR=" + store,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ATTR_NOSYSTEM=1",
	}
	for _, k := range proxyEnv {
		if v, ok := lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	cfg := hostGitConfig
	if authHeader != "" {
		cfg = append(cfg[:len(cfg):len(cfg)], [2]string{"http.extraHeader", authHeader})
	}
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// hostGit runs one git command on the store.
func hostGit(ctx context.Context, store, authHeader string, tls gitTLS, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = store
	cmd.Env = append(hostGitEnv(store, authHeader, os.LookupEnv), tls.env()...) // the last of a name wins
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args[:1], " "), err)
	}
	return nil
}
