package scalesettest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	actions "github.com/actions/scaleset"
)

const pat = "ghp_fakeTokenForTests0000000000000000"

func newClient(t *testing.T, s *Server, scope, token string) *actions.Client {
	t.Helper()
	c, err := actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL:     s.ConfigURL(scope),
		PersonalAccessToken: token,
		SystemInfo:          actions.SystemInfo{System: "scalesettest"},
	}, actions.WithRetryMax(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createSet(t *testing.T, c *actions.Client, name string, labels ...string) *actions.RunnerScaleSet {
	t.Helper()
	var ls []actions.Label
	for _, l := range labels {
		ls = append(ls, actions.Label{Name: l})
	}
	ss, err := c.CreateRunnerScaleSet(context.Background(), &actions.RunnerScaleSet{Name: name, RunnerGroupID: 1, Labels: ls})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func statusIn(err error, status string) bool {
	return err != nil && strings.Contains(err.Error(), `status="`+status)
}

func TestAuth(t *testing.T) {
	s := New(t, Options{Token: pat, Scopes: []string{"orgs/acme", "repos/acme/app"}})
	ctx := context.Background()
	cases := []struct {
		name, scope, token string
		want               string // "" = works, else the status
	}{
		{"org", "acme", pat, ""},
		{"repo", "acme/app", pat, ""},
		{"bad token", "acme", "ghp_wrong", "401"},
		{"foreign org", "other", pat, "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, s, tc.scope, tc.token)
			_, err := c.GetRunnerScaleSet(ctx, 1, "none")
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && !statusIn(err, tc.want):
				t.Fatalf("err %v, want status %s", err, tc.want)
			}
		})
	}
	// The Actions service rejects a forged admin token.
	req, _ := http.NewRequest(http.MethodGet, s.URL()+tenantRoot+"_apis/runtime/runnerscalesets?api-version=6.0-preview", nil)
	req.Header.Set("Authorization", "Bearer forged")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged admin token: %d", resp.StatusCode)
	}
}

func TestScaleSetCRUD(t *testing.T) {
	s := New(t, Options{Token: pat, RunnerGroups: []string{"linux"}})
	c := newClient(t, s, "acme", pat)
	ctx := context.Background()

	g, err := c.GetRunnerGroupByName(ctx, "linux")
	if err != nil || g.ID != 2 {
		t.Fatalf("group %+v %v", g, err)
	}
	if _, err := c.GetRunnerGroupByName(ctx, "gpu"); err == nil {
		t.Fatal("unknown runner group found")
	}
	ss, err := c.CreateRunnerScaleSet(ctx, &actions.RunnerScaleSet{Name: "fleet", RunnerGroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID == 0 || ss.RunnerGroupName != "linux" || len(ss.Labels) != 1 || ss.Labels[0].Name != "fleet" || ss.Statistics == nil {
		t.Fatalf("created %+v", ss)
	}
	if _, err := c.CreateRunnerScaleSet(ctx, &actions.RunnerScaleSet{Name: "fleet", RunnerGroupID: g.ID}); !statusIn(err, "409") {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := c.CreateRunnerScaleSet(ctx, &actions.RunnerScaleSet{Name: "x", RunnerGroupID: 99}); !statusIn(err, "404") {
		t.Fatalf("unknown group: %v", err)
	}
	got, err := c.GetRunnerScaleSet(ctx, g.ID, "fleet")
	if err != nil || got == nil || got.ID != ss.ID {
		t.Fatalf("get %+v %v", got, err)
	}
	if none, err := c.GetRunnerScaleSet(ctx, 1, "fleet"); err != nil || none != nil {
		t.Fatalf("other group: %+v %v", none, err)
	}
	up, err := c.UpdateRunnerScaleSet(ctx, ss.ID, &actions.RunnerScaleSet{Labels: []actions.Label{{Name: "linux"}, {Name: "x64"}}})
	if err != nil || len(up.Labels) != 2 {
		t.Fatalf("update %+v %v", up, err)
	}
	if err := c.DeleteRunnerScaleSet(ctx, ss.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRunnerScaleSetByID(ctx, ss.ID); !statusIn(err, "404") || !strings.Contains(err.Error(), "RunnerScaleSetNotFoundException") {
		t.Fatalf("deleted: %v", err)
	}
}

func TestSessionConflictAndMessages(t *testing.T) {
	s := New(t, Options{Token: pat, PollTimeout: 50 * time.Millisecond})
	c := newClient(t, s, "acme", pat)
	ctx := context.Background()
	ss := createSet(t, c, "fleet")

	sess, err := c.MessageSessionClient(ctx, ss.ID, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if st := sess.Session(); st.Statistics == nil || st.MessageQueueAccessToken == "" || st.RunnerScaleSet == nil {
		t.Fatalf("session %+v", st)
	}
	if _, err := c.MessageSessionClient(ctx, ss.ID, "node-b"); !statusIn(err, "409") || !strings.Contains(err.Error(), "SessionConflict") {
		t.Fatalf("second session: %v", err)
	}

	// Nothing queued: 202 → nil message.
	if m, err := sess.GetMessage(ctx, 0, 4); err != nil || m != nil {
		t.Fatalf("empty poll: %+v %v", m, err)
	}
	ids := []int64{s.QueueJob(Job{Labels: []string{"fleet"}}), s.QueueJob(Job{Labels: []string{"fleet"}})}
	s.QueueJob(Job{Labels: []string{"other"}}) // no scale set matches

	m, err := sess.GetMessage(ctx, 0, 4)
	if err != nil || m == nil {
		t.Fatalf("poll: %+v %v", m, err)
	}
	if len(m.JobAvailableMessages) != 2 || m.Statistics.TotalAvailableJobs != 2 {
		t.Fatalf("message %+v stats %+v", m, m.Statistics)
	}
	if a := m.JobAvailableMessages[0]; a.RunnerRequestID != ids[0] || a.QueueTime.IsZero() || a.AcquireJobURL == "" || a.RepositoryName != "app" {
		t.Fatalf("job available %+v", a)
	}
	// Not acknowledged: it comes again.
	again, err := sess.GetMessage(ctx, 0, 4)
	if err != nil || again == nil || again.MessageID != m.MessageID {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	if err := sess.DeleteMessage(ctx, m.MessageID); err != nil {
		t.Fatal(err)
	}
	acquired, err := sess.AcquireJobs(ctx, ids)
	if err != nil || !slices.Equal(acquired, ids) {
		t.Fatalf("acquire %v %v", acquired, err)
	}
	// A second acquire of the same jobs gets nothing.
	if again, err := sess.AcquireJobs(ctx, ids); err != nil || len(again) != 0 {
		t.Fatalf("re-acquire %v %v", again, err)
	}
	m2, err := sess.GetMessage(ctx, m.MessageID, 4)
	if err != nil || m2 == nil || len(m2.JobAssignedMessages) != 2 || m2.Statistics.TotalAssignedJobs != 2 {
		t.Fatalf("assigned: %+v %v", m2, err)
	}
	if err := sess.DeleteMessage(ctx, m2.MessageID); err != nil {
		t.Fatal(err)
	}
	if got := s.Acks(); !slices.Equal(got, []int{m.MessageID, m2.MessageID}) {
		t.Fatalf("acks %v", got)
	}

	// A runner takes a job and completes it.
	jit, err := c.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: "node-a-1", WorkFolder: "_work"}, ss.ID)
	if err != nil || jit.Runner == nil || jit.EncodedJITConfig == "" {
		t.Fatalf("jit %+v %v", jit, err)
	}
	dec, err := DecodeJITConfig(jit.EncodedJITConfig)
	if err != nil || dec.AgentName != "node-a-1" || dec.ScaleSetID != ss.ID || !dec.Ephemeral {
		t.Fatalf("decoded %+v %v", dec, err)
	}
	if _, err := c.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: "node-a-1"}, ss.ID); !statusIn(err, "409") {
		t.Fatalf("duplicate runner name: %v", err)
	}
	job, err := s.TakeJob("node-a-1")
	if err != nil || job != ids[0] {
		t.Fatalf("take %d %v", job, err)
	}
	if err := c.RemoveRunner(ctx, int64(jit.Runner.ID)); err == nil || !strings.Contains(err.Error(), "job still running") {
		t.Fatalf("removing a busy runner: %v", err)
	}
	if err := s.CompleteJob(job, "succeeded"); err != nil {
		t.Fatal(err)
	}
	m3, err := sess.GetMessage(ctx, m2.MessageID, 4)
	if err != nil || m3 == nil || len(m3.JobStartedMessages) != 1 || len(m3.JobCompletedMessages) != 1 {
		t.Fatalf("started/completed: %+v %v", m3, err)
	}
	st := m3.JobStartedMessages[0]
	if st.RunnerName != "node-a-1" || st.RunnerAssignTime.Before(st.ScaleSetAssignTime) || st.ScaleSetAssignTime.Before(st.QueueTime) {
		t.Fatalf("started %+v", st)
	}
	if m3.JobCompletedMessages[0].Result != "succeeded" || m3.Statistics.TotalAssignedJobs != 1 {
		t.Fatalf("completed %+v stats %+v", m3.JobCompletedMessages[0], m3.Statistics)
	}
	if ref, err := c.GetRunnerByName(ctx, "node-a-1"); err != nil || ref != nil {
		t.Fatalf("ephemeral runner still registered: %+v %v", ref, err)
	}

	// An expired message token is refreshed by the client.
	s.ExpireMessageTokens()
	if err := sess.DeleteMessage(ctx, m3.MessageID); err != nil {
		t.Fatalf("delete after token expiry: %v", err)
	}

	// GitHub deletes the scale set: 404 everywhere, waiting jobs re-queue.
	if !s.DeleteScaleSet(ss.ID) {
		t.Fatal("delete")
	}
	if _, err := sess.GetMessage(ctx, m3.MessageID, 4); !statusIn(err, "404") {
		t.Fatalf("poll on a deleted scale set: %v", err)
	}
	if j, _ := s.Job(ids[1]); j.State != JobQueued {
		t.Fatalf("job of a deleted scale set: %+v", j)
	}
	ss2 := createSet(t, c, "fleet")
	if j, _ := s.Job(ids[1]); j.State != JobAvailable || j.ScaleSetID != ss2.ID {
		t.Fatalf("job after re-create: %+v", j)
	}
}

func TestStrictness(t *testing.T) {
	s := New(t, Options{Token: pat, AllowViolations: true})
	c := newClient(t, s, "acme", pat)
	ctx := context.Background()
	ss := createSet(t, c, "fleet")
	sess, err := c.MessageSessionClient(ctx, ss.ID, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	token := sess.Session().MessageQueueAccessToken
	queue := sess.Session().MessageQueueURL
	do := func(method, url, auth string, hdr map[string]string, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	base := s.URL() + tenantRoot + "_apis/runtime/runnerscalesets"
	cases := []struct {
		name         string
		method, url  string
		auth         string
		hdr          map[string]string
		body         string
		want         int
		wantViolated bool
	}{
		{"poll without capacity header", "GET", queue, "Bearer " + token, map[string]string{"Accept": "application/json"}, "", 400, true},
		{"poll with a wrong token", "GET", queue, "Bearer nope", map[string]string{"X-ScaleSetMaxCapacity": "1", "Accept": "application/json"}, "", 401, false},
		{"ack of an unknown message", "DELETE", strings.Replace(queue, "/messages?", "/messages/999?", 1), "Bearer " + token, nil, "", 404, true},
		{"acquire with the admin token only", "POST", base + "/" + itoa(ss.ID) + "/acquirejobs?api-version=6.0-preview", "Bearer admin", map[string]string{"Content-Type": "application/json"}, "[1]", 401, false},
		{"acquire without api-version", "POST", base + "/" + itoa(ss.ID) + "/acquirejobs", "Bearer " + token, map[string]string{"Content-Type": "application/json"}, "[1]", 400, true},
		{"unknown endpoint", "GET", s.URL() + "/api/v3/nothing", "", nil, "", 404, true},
	}
	for _, tc := range cases {
		before := len(s.Violations())
		if got := do(tc.method, tc.url, tc.auth, tc.hdr, tc.body); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
		if violated := len(s.Violations()) > before; violated != tc.wantViolated {
			t.Errorf("%s: violation recorded %v, want %v", tc.name, violated, tc.wantViolated)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRunnerProtocol plays the stand-in runner (tests/githubrunner) with
// its JIT config: session, job long-poll, result.
func TestRunnerProtocol(t *testing.T) {
	s := New(t, Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	c := newClient(t, s, "acme", pat)
	ctx := context.Background()
	ss := createSet(t, c, "fleet")
	sess, err := c.MessageSessionClient(ctx, ss.ID, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	jit, err := c.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: "node-a-1"}, ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	// What the stand-in runner reads: .runner's agentId/serverUrl and
	// .credentials' data.token.
	var files map[string]string
	raw, _ := base64.StdEncoding.DecodeString(jit.EncodedJITConfig)
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatal(err)
	}
	var rf struct {
		AgentID   int64  `json:"agentId"`
		ServerURL string `json:"serverUrl"`
	}
	var cf struct {
		Data map[string]string `json:"data"`
	}
	rb, _ := base64.StdEncoding.DecodeString(files[".runner"])
	cb, _ := base64.StdEncoding.DecodeString(files[".credentials"])
	if json.Unmarshal(rb, &rf) != nil || json.Unmarshal(cb, &cf) != nil || rf.AgentID == 0 || cf.Data["token"] == "" {
		t.Fatalf("jit files %s %s", rb, cb)
	}
	call := func(method, path, token, body string) (int, string) {
		if !strings.Contains(path, "runnerVersion=") {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "runnerVersion=2.338.0"
		}
		req, _ := http.NewRequest(method, strings.TrimRight(rf.ServerURL, "/")+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	me := "/runners/" + itoa(int(rf.AgentID))
	tok := cf.Data["token"]
	if code, _ := call("POST", me+"/session", "wrong", "{}"); code != 401 {
		t.Fatalf("session with a wrong token: %d", code)
	}
	// An outdated runner is refused as GitHub refuses it; one without a
	// version is malformed.
	if code, body := call("POST", me+"/session?runnerVersion=2.327.1", tok, "{}"); code != 403 ||
		!strings.Contains(body, "Runner version v2.327.1 is deprecated and cannot receive messages.") {
		t.Fatalf("session of an outdated runner: %d %s", code, body)
	}
	if got := s.Refused(); len(got) != 1 || got[0] != "2.327.1" {
		t.Fatalf("refused %v", got)
	}
	if code, _ := call("POST", me+"/session?runnerVersion=", tok, "{}"); code != 400 {
		t.Fatalf("session without a runner version: %d", code)
	}
	if code, _ := call("POST", me+"/session", tok, "{}"); code != 200 {
		t.Fatalf("session: %d", code)
	}
	if code, _ := call("GET", me+"/job?wait=0", tok, ""); code != 204 {
		t.Fatalf("no job yet: %d", code)
	}
	id := s.QueueJob(Job{Labels: []string{"fleet"}, Steps: []string{"true"}})
	m, err := sess.GetMessage(ctx, 0, 1)
	if err != nil || m == nil {
		t.Fatal(m, err)
	}
	if _, err := sess.AcquireJobs(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	code, body := call("GET", me+"/job?wait=1", tok, "")
	if code != 200 || !strings.Contains(body, `"steps":["true"]`) {
		t.Fatalf("job: %d %s", code, body)
	}
	if code, _ := call("POST", me+"/jobs/"+itoa(int(id))+"/result", tok, `{"conclusion":"success","output":"ok"}`); code != 204 {
		t.Fatalf("result: %d", code)
	}
	if j, _ := s.Job(id); j.State != JobCompleted || j.Result != "succeeded" || j.Output != "ok" || j.StartedAt.IsZero() {
		t.Fatalf("job %+v", j)
	}
	// The ephemeral registration is gone: the runner's next call is 404.
	if code, _ := call("GET", me+"/job?wait=0", tok, ""); code != 404 {
		t.Fatalf("after the job: %d", code)
	}
}
