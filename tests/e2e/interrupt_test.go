package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestSpotInterruption: a fake IMDSv2 on loopback announces a spot
// interruption while a job runs. The agent stops taking jobs at once, ends
// the running job as runner_system_failure shortly before the deadline
// (GitLab can retry it), and takes nothing queued afterwards.
func TestSpotInterruption(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	var mu sync.Mutex
	action := ""
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" && r.Method == http.MethodPut && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "" {
			_, _ = w.Write([]byte("t"))
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != "t" {
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/latest/meta-data/spot/instance-action" && action != "" {
			_, _ = w.Write([]byte(action))
			return
		}
		http.NotFound(w, r)
	}))
	defer imds.Close()
	srv := newServer(t)
	startAgent(t, srv, agentConfig{Global: fmt.Sprintf("[interruption]\ncloud = \"aws\"\nmetadata_endpoint = %q\ncheck_interval = 1\n", imds.URL)})
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo started", "sleep 120"}})
	waitFor(t, jobWait, "the job to start", func() bool { return strings.Contains(string(srv.Job(id).Trace), "started") })
	mu.Lock()
	action = fmt.Sprintf(`{"action":"terminate","time":%q}`, time.Now().Add(20*time.Second).UTC().Format(time.RFC3339))
	mu.Unlock()
	time.Sleep(2 * time.Second)
	later := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
	rec := srv.WaitFinal(t, id, 40*time.Second)
	if rec.State != gitlabtest.StateFailed || rec.FailureReason != "runner_system_failure" {
		t.Fatalf("interrupted job: %s %q", rec.State, rec.FailureReason)
	}
	checkReportedOnce(t, rec)
	time.Sleep(2 * time.Second)
	if r := srv.Job(later); r.State != gitlabtest.StatePending {
		t.Errorf("a job queued after the notice was taken: %s", r.State)
	}
}
