package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

const jobWait = 90 * time.Second

// TestJobs runs a table of jobs through one agent and checks what GitLab
// saw: state, failure reason, exit code and log.
func TestJobs(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
	sha := srv.AddRepo(t, "group/project", map[string]string{"README.md": "first\n", "hello.sh": "echo hello from the repo\n"})
	sha2 := srv.Commit(t, "group/project", map[string]string{"README.md": "second\n"})
	const secret = "s3cr3t-Value-XYZ"

	tests := []struct {
		name   string
		spec   gitlabtest.JobSpec
		state  gitlabtest.JobState
		reason string
		exit   int
		check  func(t *testing.T, log string)
	}{
		{
			name:  "success",
			spec:  gitlabtest.JobSpec{Script: []string{"echo hello world", "sh hello.sh"}},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "hello world", "hello from the repo", "section_start:", "section_end:", "Job succeeded")
			},
		},
		{
			name:   "script failure with exit code",
			spec:   gitlabtest.JobSpec{Script: []string{"echo before", "exit 42", "echo never"}},
			state:  gitlabtest.StateFailed,
			reason: "script_failure",
			exit:   42,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "before", "exit code 42")
				mustNotContain(t, log, "\nnever")
			},
		},
		{
			name:   "after_script runs on failure",
			spec:   gitlabtest.JobSpec{Script: []string{"false"}, AfterScript: []string{"echo after-ran-$CI_JOB_STAGE"}},
			state:  gitlabtest.StateFailed,
			reason: "script_failure",
			exit:   1,
			check:  func(t *testing.T, log string) { mustContain(t, log, "after-ran-test") },
		},
		{
			name: "masked values never reach the log",
			spec: gitlabtest.JobSpec{
				Variables: []gitlabtest.Variable{{Key: "SECRET", Value: secret, Masked: true}},
				Script: []string{
					"echo plain $SECRET",
					"printf '%s' \"$SECRET\" | fold -w 3",                // split over lines
					"printf 's3cr3t-'; sleep 0.2; printf 'Value-XYZ\\n'", // split over writes
					"echo $CI_JOB_TOKEN",
				},
			},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "[MASKED]")
				mustNotContain(t, log, secret)
			},
		},
		{
			name: "file and expanded variables",
			spec: gitlabtest.JobSpec{
				Variables: []gitlabtest.Variable{
					{Key: "CONF", Value: "file-content-42\n", File: true},
					{Key: "BASE", Value: "base"},
					{Key: "DERIVED", Value: "$BASE-derived"},
					{Key: "RAWV", Value: "$BASE-raw", Raw: true},
				},
				Script: []string{
					"test -f \"$CONF\" && cat \"$CONF\"",
					"echo derived=$DERIVED raw=$RAWV",
					"echo dir=$CI_PROJECT_DIR builds=$CI_BUILDS_DIR",
					"test \"$(pwd)\" = \"$CI_PROJECT_DIR\"",
				},
			},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "file-content-42", "derived=base-derived", "raw=$BASE-raw", "dir=/builds/group/project builds=/builds")
			},
		},
		{
			name:  "sources at the job's sha",
			spec:  gitlabtest.JobSpec{SHA: sha, Script: []string{"git rev-parse HEAD 2>/dev/null || true", "cat README.md"}},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "first")
				mustNotContain(t, log, "second\n")
				_ = sha2
			},
		},
		{
			name:  "sources at the newest sha",
			spec:  gitlabtest.JobSpec{Script: []string{"cat README.md"}},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) { mustContain(t, log, "second") },
		},
		{
			name: "services by alias",
			spec: gitlabtest.JobSpec{
				Services: []gitlabtest.Image{{
					Name:       testImage,
					Alias:      "web,www",
					Entrypoint: []string{"/bin/sh", "-c", "mkdir -p /www && echo service-ok > /www/index.html && exec httpd -f -p 8080 -h /www"},
				}},
				Script: []string{
					"for i in $(seq 1 50); do wget -qO- http://web:8080/ && break; sleep 0.2; done",
					"wget -qO- http://www:8080/",
				},
			},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				if strings.Count(log, "service-ok") < 2 {
					t.Errorf("service not reached by both aliases:\n%s", log)
				}
			},
		},
		{
			name: "git strategy none",
			spec: gitlabtest.JobSpec{
				Variables: []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}},
				Script:    []string{"echo no-sources"},
			},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				mustContain(t, log, "no-sources", "GIT_STRATEGY=none")
				mustNotContain(t, log, "fetching")
			},
		},
		{
			name:  "no engine socket and unprivileged",
			spec:  gitlabtest.JobSpec{Script: []string{"test ! -e /var/run/docker.sock", "! mount -t tmpfs none /mnt 2>/dev/null", "echo isolated"}},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) { mustContain(t, log, "isolated") },
		},
	}
	startAgent(t, srv, agentConfig{Concurrent: 4})
	ids := make([]int64, len(tests))
	for i, tt := range tests {
		tt.spec.ProjectPath = "group/project"
		ids[i] = srv.Enqueue(tt.spec)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := srv.WaitFinal(t, ids[i], jobWait)
			log := string(rec.Trace)
			if rec.State != tt.state {
				t.Fatalf("state = %s (%s), want %s; log:\n%s", rec.State, rec.FailureReason, tt.state, log)
			}
			if rec.FailureReason != tt.reason {
				t.Errorf("failure_reason = %q, want %q", rec.FailureReason, tt.reason)
			}
			if tt.exit != 0 && (rec.ExitCode == nil || *rec.ExitCode != tt.exit) {
				t.Errorf("exit_code = %v, want %d", rec.ExitCode, tt.exit)
			}
			checkReportedOnce(t, rec)
			tt.check(t, log)
		})
	}
	checkViolations(t, srv)
}

func checkReportedOnce(t *testing.T, rec gitlabtest.JobRecord) {
	t.Helper()
	if rec.FinalUpdates != 1 || !rec.TraceChecksumOK {
		t.Errorf("final updates = %d (rejected %d), checksum ok = %v; events: %v", rec.FinalUpdates, rec.RejectedFinalUpdates, rec.TraceChecksumOK, rec.Events)
	}
}

func checkViolations(t *testing.T, srv *gitlabtest.Server) {
	t.Helper()
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations seen by the fake GitLab:\n%s", strings.Join(v, "\n"))
	}
}

func mustContain(t *testing.T, log string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q; log:\n%s", s, tail(log, 3000))
		}
	}
}

func mustNotContain(t *testing.T, log string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(log, s) {
			t.Errorf("log contains %q; log:\n%s", s, tail(log, 3000))
		}
	}
}
