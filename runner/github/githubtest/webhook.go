package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Delivery is one webhook delivery attempt and its answer.
type Delivery struct {
	ID       string
	Event    string
	Action   string
	JobID    int64
	Status   int // 0 when the request failed
	Err      string
	BadSig   bool
	Duration time.Duration
}

type webhook struct {
	url    string
	secret []byte
	queue  chan outgoing
}

type outgoing struct {
	action string
	body   []byte
	jobID  int64
}

// SetWebhook makes the fake deliver workflow_job events for every job
// state change to url, signed with secret (X-Hub-Signature-256), one at a
// time in order, as a repository or organization webhook does.
func (s *Server) SetWebhook(url string, secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook != nil {
		s.tb.Fatal("githubtest: SetWebhook called twice")
	}
	s.hook = &webhook{url: url, secret: secret, queue: make(chan outgoing, 4096)}
	h := s.hook
	s.wg.Go(func() {
		for {
			select {
			case o := <-h.queue:
				s.send(h, o, false)
			case <-s.done:
				return
			}
		}
	})
}

// Deliveries returns the deliveries made so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Redeliver sends the current state of job id as a workflow_job delivery
// with action now, synchronously; with badSignature the signature is made
// with a wrong secret. It returns the receiver's status code.
func (s *Server) Redeliver(ctx context.Context, action string, id int64, badSignature bool) (int, error) {
	s.mu.Lock()
	h, j := s.hook, s.jobs[id]
	if h == nil || j == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("githubtest: no webhook configured or no job %d", id)
	}
	body := s.payloadLocked(action, j)
	s.mu.Unlock()
	d := s.send(h, outgoing{action: action, body: body, jobID: id}, badSignature)
	if d.Err != "" {
		return 0, fmt.Errorf("githubtest: delivery: %s", d.Err)
	}
	_ = ctx
	return d.Status, nil
}

func (s *Server) deliverLocked(action string, j *Job) {
	if s.hook == nil {
		return
	}
	select {
	case s.hook.queue <- outgoing{action: action, body: s.payloadLocked(action, j), jobID: j.ID}:
	default:
		s.violations = append(s.violations, "webhook queue overflow")
	}
}

func (s *Server) send(h *webhook, o outgoing, badSig bool) Delivery {
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	d := Delivery{ID: id, Event: "workflow_job", Action: o.action, JobID: o.jobID, BadSig: badSig}
	secret := h.secret
	if badSig {
		secret = []byte("not-the-secret")
	}
	m256 := hmac.New(sha256.New, secret)
	m256.Write(o.body)
	m1 := hmac.New(sha1.New, secret)
	m1.Write(o.body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // GitHub's delivery timeout
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(o.body))
	if err != nil {
		d.Err = err.Error()
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/7e8f3a1")
		req.Header.Set("X-GitHub-Event", "workflow_job")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-GitHub-Hook-ID", "424242")
		req.Header.Set("X-GitHub-Hook-Installation-Target-Type", "organization")
		req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(m1.Sum(nil)))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m256.Sum(nil)))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		d.Duration = time.Since(start)
		if err != nil {
			d.Err = err.Error()
		} else {
			d.Status = resp.StatusCode
			resp.Body.Close()
		}
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.notifyLocked()
	s.mu.Unlock()
	return d
}

// payloadLocked renders a workflow_job event with GitHub's field names;
// fields GitHub sends as null stay null.
func (s *Server) payloadLocked(action string, j *Job) []byte {
	owner, name, _ := strings.Cut(j.Repo, "/")
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	orNil := func(ok bool, v any) any {
		if !ok {
			return nil
		}
		return v
	}
	assigned := j.RunnerID != 0
	var conclusion any
	if j.Status == "completed" {
		conclusion = j.Conclusion
	}
	status := j.Status
	if action == "waiting" {
		status = "waiting"
	}
	started := j.StartedAt
	if started.IsZero() {
		started = j.QueuedAt
	}
	api := s.URL() + "/api/v3"
	ownerObj := map[string]any{"login": owner, "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=", "type": "Organization", "site_admin": false,
		"url": api + "/users/" + owner, "html_url": s.URL() + "/" + owner}
	body := map[string]any{
		"action": action,
		"workflow_job": map[string]any{
			"id": j.ID, "run_id": j.RunID, "run_attempt": 1, "node_id": fmt.Sprintf("CR_kwDO%d", j.ID),
			"head_sha": "3484a3fb816e0859fd6e1cea078d76385ff50625", "head_branch": "main",
			"url":           fmt.Sprintf("%s/repos/%s/actions/jobs/%d", api, j.Repo, j.ID),
			"run_url":       fmt.Sprintf("%s/repos/%s/actions/runs/%d", api, j.Repo, j.RunID),
			"html_url":      fmt.Sprintf("%s/%s/actions/runs/%d/job/%d", s.URL(), j.Repo, j.RunID, j.ID),
			"check_run_url": fmt.Sprintf("%s/repos/%s/check-runs/%d", api, j.Repo, j.ID),
			"status":        status, "conclusion": conclusion,
			"created_at": ts(j.QueuedAt), "started_at": ts(started), "completed_at": ts(j.CompletedAt),
			"name": j.Name, "steps": []any{}, "labels": j.Labels,
			"runner_id": orNil(assigned, j.RunnerID), "runner_name": orNil(assigned, j.RunnerName),
			"runner_group_id": orNil(assigned, j.RunnerGroupID), "runner_group_name": orNil(assigned, j.RunnerGroupName),
			"workflow_name": "CI",
		},
		"repository": map[string]any{"id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": name, "full_name": j.Repo,
			"private": true, "owner": ownerObj, "html_url": s.URL() + "/" + j.Repo, "url": api + "/repos/" + j.Repo, "default_branch": "main"},
		"organization": map[string]any{"login": owner, "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=", "url": api + "/orgs/" + owner},
		"sender":       map[string]any{"login": "octocat", "id": 21031067, "node_id": "MDQ6VXNlcjIxMDMxMDY3", "type": "User", "site_admin": false},
		"installation": map[string]any{"id": 2, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMg=="},
	}
	b, _ := json.Marshal(body)
	return b
}
