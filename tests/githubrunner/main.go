// Command githubrunner is a TEST DOUBLE of the GitHub Actions runner, for
// runfleet's tests only: it speaks the test-only protocol of the fake
// GitHub in runner/github/githubtest, never GitHub's. Like the official
// runner it takes its whole configuration from an encoded JIT config
// (ACTIONS_RUNNER_INPUT_JITCONFIG: base64 JSON whose ".runner" and
// ".credentials" values are base64 JSON files), runs the job hooks named by
// ACTIONS_RUNNER_HOOK_JOB_STARTED / ACTIONS_RUNNER_HOOK_JOB_COMPLETED,
// takes exactly one job, runs its script lines with sh, reports the
// result and exits. When its registration is deleted before it got a job
// it exits too, as a JIT runner does.
//
// Like the official runner it names its version in every call
// (runnerversion.Default, or RUNFLEET_TEST_RUNNER_VERSION to play an
// outdated runner) and, when GitHub answers that the version is
// deprecated, prints GitHub's message the way the runner does and exits 1
// without retrying.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

type runnerFile struct {
	AgentID   int64  `json:"agentId"`
	AgentName string `json:"agentName"`
	ServerURL string `json:"serverUrl"`
}

type credentialsFile struct {
	Scheme string            `json:"scheme"`
	Data   map[string]string `json:"data"`
}

type jobPayload struct {
	ID    int64    `json:"id"`
	RunID int64    `json:"run_id"`
	Name  string   `json:"name"`
	Repo  string   `json:"repository"`
	Steps []string `json:"steps"`
}

// jobEnv is what the official runner puts in the environment of a job's
// steps and hooks (a subset: the run and the repository).
func jobEnv(j jobPayload) []string {
	return append(os.Environ(), "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY="+j.Repo,
		"GITHUB_RUN_ID="+strconv.FormatInt(j.RunID, 10), "GITHUB_RUN_ATTEMPT=1", "GITHUB_JOB="+j.Name)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		var dep errDeprecated
		if errors.As(err, &dep) {
			// As the official runner reports GitHub's refusal.
			fmt.Printf("An error occurred: Error: Forbidden %s\n", dep.message)
			fmt.Println("Runner listener exit with terminated error, stop the service, no retry needed.")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "githubrunner:", err)
		os.Exit(1)
	}
}

// decodeJIT unpacks the JIT config into its runner and credentials files.
func decodeJIT(enc string) (runnerFile, credentialsFile, error) {
	var rf runnerFile
	var cf credentialsFile
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return rf, cf, fmt.Errorf("JIT config is not base64: %w", err)
	}
	var files map[string]string
	if err := json.Unmarshal(raw, &files); err != nil {
		return rf, cf, fmt.Errorf("JIT config is not a JSON object: %w", err)
	}
	for name, dst := range map[string]any{".runner": &rf, ".credentials": &cf} {
		b, err := base64.StdEncoding.DecodeString(files[name])
		if err != nil || len(b) == 0 {
			return rf, cf, fmt.Errorf("JIT config: %s missing or not base64", name)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return rf, cf, fmt.Errorf("JIT config: %s: %w", name, err)
		}
	}
	if rf.AgentID == 0 || rf.ServerURL == "" || cf.Data["token"] == "" {
		return rf, cf, errors.New("JIT config: agentId, serverUrl or credentials missing")
	}
	return rf, cf, nil
}

type client struct {
	base, token, version string
	http                 *http.Client
}

// errDeprecated is GitHub's refusal of an outdated runner (403).
type errDeprecated struct{ message string }

func (e errDeprecated) Error() string { return e.message }

var errGone = errors.New("registration deleted")

func (c *client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	path += sep + "runnerVersion=" + url.QueryEscape(c.version)
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, errGone
	}
	if resp.StatusCode == http.StatusForbidden {
		var e struct{ Message string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		resp.Body.Close()
		if _, ok := runnerversion.ParseDeprecated(e.Message); ok {
			return nil, errDeprecated{e.Message}
		}
		return nil, fmt.Errorf("%s %s: 403 %s", method, path, e.Message)
	}
	return resp, nil
}

func run(ctx context.Context) error {
	enc := os.Getenv("ACTIONS_RUNNER_INPUT_JITCONFIG")
	if enc == "" {
		return errors.New("ACTIONS_RUNNER_INPUT_JITCONFIG is not set")
	}
	rf, cf, err := decodeJIT(enc)
	if err != nil {
		return err
	}
	version := runnerversion.Default
	if v := os.Getenv("RUNFLEET_TEST_RUNNER_VERSION"); v != "" {
		version = v
	}
	c := &client{base: rf.ServerURL, token: cf.Data["token"], version: version, http: &http.Client{Timeout: 70 * time.Second}}
	fmt.Printf("Current runner version: '%s'\n", version)
	me := "/runners/" + strconv.FormatInt(rf.AgentID, 10)
	fmt.Printf("githubrunner (test double): runner %s (id %d) connecting to %s\n", rf.AgentName, rf.AgentID, rf.ServerURL)
	resp, err := c.do(ctx, http.MethodPost, me+"/session", map[string]string{})
	if errors.Is(err, errGone) {
		fmt.Println("registration deleted before the runner connected: exiting")
		return nil
	}
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("open session: %s", resp.Status)
	}
	fmt.Println("listening for jobs")
	var job jobPayload
	for {
		resp, err := c.do(ctx, http.MethodGet, me+"/job?wait=30", nil)
		if errors.Is(err, errGone) {
			fmt.Println("registration deleted: exiting without a job")
			return nil
		}
		if ctx.Err() != nil {
			closeSession(c, me)
			fmt.Println("stopped without a job")
			return nil
		}
		if err != nil {
			return fmt.Errorf("get job: %w", err)
		}
		if resp.StatusCode == http.StatusNoContent {
			resp.Body.Close()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("get job: %s", resp.Status)
		}
		err = json.NewDecoder(resp.Body).Decode(&job)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("get job: %w", err)
		}
		break
	}
	fmt.Printf("running job %d (%s)\n", job.ID, job.Name)
	var log bytes.Buffer
	conclusion := "success"
	env := jobEnv(job)
	hook("ACTIONS_RUNNER_HOOK_JOB_STARTED", env, &log)
	for _, line := range job.Steps {
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Env = env
		cmd.Stdout = io.MultiWriter(&log, os.Stdout)
		cmd.Stderr = cmd.Stdout
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(&log, "step failed: %v\n", err)
			conclusion = "failure"
			break
		}
	}
	if ctx.Err() != nil {
		conclusion = "cancelled"
	}
	hook("ACTIONS_RUNNER_HOOK_JOB_COMPLETED", env, &log)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	resp, err = c.do(rctx, http.MethodPost, fmt.Sprintf("%s/jobs/%d/result", me, job.ID), map[string]string{"conclusion": conclusion, "output": log.String()})
	if err != nil {
		return fmt.Errorf("report result: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("report result: %s", resp.Status)
	}
	fmt.Printf("job %d: %s\n", job.ID, conclusion)
	return nil
}

// hook runs the script a hook variable names, as the runner does.
func hook(name string, env []string, log io.Writer) {
	script := os.Getenv(name)
	if script == "" {
		return
	}
	cmd := exec.Command("sh", script)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(log, "hook %s: %v\n", name, err)
	}
}

func closeSession(c *client, me string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := c.do(ctx, http.MethodDelete, me+"/session", nil); err == nil {
		resp.Body.Close()
	}
}
