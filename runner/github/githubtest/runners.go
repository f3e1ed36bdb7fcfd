package githubtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// runner is one registered self-hosted runner.
type runner struct {
	id        int64
	name      string
	scope     *org
	groupID   int64
	labels    []string
	workDir   string
	online    bool
	busy      bool
	secret    string // the runner's credential (test-only protocol)
	createdAt time.Time
	onlineAt  time.Time
	jobID     int64
}

// RunnerInfo is a snapshot of one registered runner.
type RunnerInfo struct {
	ID        int64
	Name      string
	Scope     string // "orgs/acme", "repos/acme/app", "enterprises/big"
	GroupID   int64
	Labels    []string
	Status    string // online | offline
	Busy      bool
	CreatedAt time.Time
	OnlineAt  time.Time // zero until the runner connected
}

// AddOrg creates an organization with its Default runner group (ID 1).
func (s *Server) AddOrg(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addScopeLocked(s.orgs, "orgs", name, name)
}

// AddEnterprise creates an enterprise with its Default runner group.
func (s *Server) AddEnterprise(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addScopeLocked(s.enterprises, "enterprises", name, name)
}

// AddRepo creates the repository "owner/repo" (and its owner organization).
func (s *Server) AddRepo(fullName string) {
	owner, _, _ := strings.Cut(fullName, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addScopeLocked(s.orgs, "orgs", owner, owner)
	s.addScopeLocked(s.repos, "repos", fullName, owner)
}

func (s *Server) addScopeLocked(m map[string]*org, kind, name, owner string) {
	if _, ok := m[name]; ok {
		return
	}
	m[name] = &org{kind: kind, name: name, owner: owner, groups: map[int64]*group{1: {ID: 1, Name: "Default"}}}
}

// AddRunnerGroup adds a runner group to an organization or enterprise
// ("orgs/acme") and returns its ID.
func (s *Server) AddRunnerGroup(scope, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.scopeLocked(scope)
	if o == nil {
		s.tb.Fatalf("githubtest: AddRunnerGroup: no scope %q", scope)
	}
	id := s.nextGroupID
	s.nextGroupID++
	o.groups[id] = &group{ID: id, Name: name}
	return id
}

func (s *Server) scopeLocked(scope string) *org {
	kind, name, _ := strings.Cut(scope, "/")
	switch kind {
	case "orgs":
		return s.orgs[name]
	case "enterprises":
		return s.enterprises[name]
	case "repos":
		return s.repos[name]
	}
	return nil
}

func (o *org) key() string { return o.kind + "/" + o.name }

// Runners returns every registered runner, by ID.
func (s *Server) Runners() []RunnerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RunnerInfo, 0, len(s.runners))
	for _, r := range s.runners {
		out = append(out, r.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *runner) info() RunnerInfo {
	st := "offline"
	if r.online {
		st = "online"
	}
	return RunnerInfo{ID: r.id, Name: r.name, Scope: r.scope.key(), GroupID: r.groupID, Labels: slices.Clone(r.labels),
		Status: st, Busy: r.busy, CreatedAt: r.createdAt, OnlineAt: r.onlineAt}
}

// restRunner is a runner in GitHub's REST shape.
func (r *runner) rest() map[string]any {
	st := "offline"
	if r.online {
		st = "online"
	}
	labels := make([]map[string]any, len(r.labels))
	for i, l := range r.labels {
		labels[i] = map[string]any{"id": i + 1, "name": l, "type": "custom"}
	}
	return map[string]any{"id": r.id, "name": r.name, "os": "Linux", "status": st, "busy": r.busy,
		"labels": labels, "runner_group_id": r.groupID, "ephemeral": true}
}

// scoped resolves the owning scope of a REST runner endpoint and checks
// that the credential may act on it.
func (s *Server) scoped(h func(http.ResponseWriter, *http.Request, *org)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var key string
		switch {
		case r.PathValue("org") != "":
			key = "orgs/" + r.PathValue("org")
		case r.PathValue("enterprise") != "":
			key = "enterprises/" + r.PathValue("enterprise")
		default:
			key = "repos/" + r.PathValue("owner") + "/" + r.PathValue("repo")
		}
		cred, tok, ok := s.authenticate(w, r)
		if !ok || !s.spend(w, tok) {
			return
		}
		s.mu.Lock()
		o := s.scopeLocked(key)
		s.mu.Unlock()
		if o == nil {
			notFound(w)
			return
		}
		if !cred.covers(key) {
			writeError(w, http.StatusForbidden, "Resource not accessible by integration", docRunners)
			return
		}
		h(w, r, o)
	}
}

// jitRequest is the body of generate-jitconfig; pointers tell absent
// fields from zero values.
type jitRequest struct {
	Name          *string  `json:"name"`
	RunnerGroupID *int64   `json:"runner_group_id"`
	Labels        []string `json:"labels"`
	WorkFolder    *string  `json:"work_folder"`
}

func invalid(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+msg, docRunners)
}

// handleJIT serves POST …/actions/runners/generate-jitconfig.
func (s *Server) handleJIT(w http.ResponseWriter, r *http.Request, o *org) {
	var req jitRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case req.Name == nil:
		invalid(w, `"name" wasn't supplied.`)
		return
	case req.RunnerGroupID == nil:
		invalid(w, `"runner_group_id" wasn't supplied.`)
		return
	case req.Labels == nil:
		invalid(w, `"labels" wasn't supplied.`)
		return
	case strings.TrimSpace(*req.Name) == "":
		invalid(w, `"name" must not be blank.`)
		return
	case len(req.Labels) < 1:
		invalid(w, "For 'properties/labels', [] has fewer items than 1.")
		return
	case len(req.Labels) > 100:
		invalid(w, fmt.Sprintf("For 'properties/labels', %d items is more than 100.", len(req.Labels)))
		return
	}
	for _, l := range req.Labels {
		if strings.TrimSpace(l) == "" || len(l) > 256 {
			invalid(w, fmt.Sprintf("Label %q is not valid: labels are 1 to 256 characters.", l))
			return
		}
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s.mu.Lock()
	if _, ok := o.groups[*req.RunnerGroupID]; !ok || (o.kind == "repos" && *req.RunnerGroupID != 1) {
		s.mu.Unlock()
		notFound(w)
		return
	}
	for _, x := range s.runners {
		if x.scope == o && x.name == *req.Name {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, fmt.Sprintf("Already exists - A runner with the name %q already exists.", *req.Name), docRunners)
			return
		}
	}
	workDir := "_work"
	if req.WorkFolder != nil && *req.WorkFolder != "" {
		workDir = *req.WorkFolder
	}
	rn := &runner{id: s.nextRunnerID, name: *req.Name, scope: o, groupID: *req.RunnerGroupID, labels: slices.Clone(req.Labels),
		workDir: workDir, secret: hex.EncodeToString(secret), createdAt: s.now()}
	s.nextRunnerID++
	s.runners[rn.id] = rn
	body := map[string]any{"runner": rn.rest(), "encoded_jit_config": s.encodeJIT(rn)}
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, body)
}

// JIT config format (shape of the real one: base64 of a JSON object whose
// values are base64 JSON files the runner would otherwise write with
// config.sh). The ".credentials" file carries, for the TEST-ONLY
// protocol, the runner's secret under data.token with the scheme
// "RunfleetTest"; the real service uses OAuth with an RSA key here.
type jitRunnerFile struct {
	AgentID    int64  `json:"agentId"`
	AgentName  string `json:"agentName"`
	PoolID     int64  `json:"poolId"`
	PoolName   string `json:"poolName"`
	ServerURL  string `json:"serverUrl"`
	GitHubURL  string `json:"gitHubUrl"`
	WorkFolder string `json:"workFolder"`
	Ephemeral  bool   `json:"ephemeral"`
}

type jitCredentialsFile struct {
	Scheme string            `json:"scheme"`
	Data   map[string]string `json:"data"`
}

func (s *Server) encodeJIT(rn *runner) string {
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.StdEncoding.EncodeToString(b)
	}
	files := map[string]string{
		".runner": b64(jitRunnerFile{AgentID: rn.id, AgentName: rn.name, PoolID: rn.groupID, PoolName: rn.scope.groups[rn.groupID].Name,
			ServerURL: s.URL() + "/_runfleet_test/", GitHubURL: s.URL() + "/" + strings.TrimPrefix(rn.scope.key(), "orgs/"),
			WorkFolder: rn.workDir, Ephemeral: true}),
		".credentials":           b64(jitCredentialsFile{Scheme: "RunfleetTest", Data: map[string]string{"token": rn.secret, "clientId": strconv.FormatInt(rn.id, 10)}}),
		".credentials_rsaparams": b64(map[string]string{"note": "test double: no key"}),
	}
	return b64(files)
}

// handleListRunners serves GET …/actions/runners (?name=, per_page, page).
func (s *Server) handleListRunners(w http.ResponseWriter, r *http.Request, o *org) {
	q := r.URL.Query()
	perPage, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalid(w, "per_page must be a positive integer")
			return
		}
		perPage = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalid(w, "page must be a positive integer")
			return
		}
		page = n
	}
	s.mu.Lock()
	var all []*runner
	for _, x := range s.runners {
		if x.scope == o && (q.Get("name") == "" || x.name == q.Get("name")) {
			all = append(all, x)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	list := make([]map[string]any, 0, to-from)
	for _, x := range all[from:to] {
		list = append(list, x.rest())
	}
	s.mu.Unlock()
	if to < len(all) {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		qq := u.Query()
		qq.Set("page", strconv.Itoa(page+1))
		qq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = qq.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "runners": list})
}

func (s *Server) runnerByPath(w http.ResponseWriter, r *http.Request, o *org) *runner {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		notFound(w)
		return nil
	}
	x := s.runners[id]
	if x == nil || x.scope != o {
		notFound(w)
		return nil
	}
	return x
}

// handleGetRunner serves GET …/actions/runners/{id}.
func (s *Server) handleGetRunner(w http.ResponseWriter, r *http.Request, o *org) {
	s.mu.Lock()
	x := s.runnerByPath(w, r, o)
	var body map[string]any
	if x != nil {
		body = x.rest()
	}
	s.mu.Unlock()
	if x != nil {
		writeJSON(w, http.StatusOK, body)
	}
}

// handleDeleteRunner serves DELETE …/actions/runners/{id}: 204, 404, or
// 422 while the runner runs a job.
func (s *Server) handleDeleteRunner(w http.ResponseWriter, r *http.Request, o *org) {
	s.mu.Lock()
	x := s.runnerByPath(w, r, o)
	if x == nil {
		s.mu.Unlock()
		return
	}
	if x.busy {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Bad request - Runner %q is still running a job\"", x.name), docRunners)
		return
	}
	delete(s.runners, x.id)
	s.notifyLocked()
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleRunnerGroups serves GET /orgs/{org}/actions/runner-groups (and the
// enterprise variant).
func (s *Server) handleRunnerGroups(w http.ResponseWriter, r *http.Request, o *org) {
	s.mu.Lock()
	groups := make([]map[string]any, 0, len(o.groups))
	ids := make([]int64, 0, len(o.groups))
	for id := range o.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := o.groups[id]
		groups = append(groups, map[string]any{"id": g.ID, "name": g.Name, "visibility": "all", "default": g.ID == 1,
			"runners_url": fmt.Sprintf("%s/api/v3/%s/actions/runner-groups/%d/runners", s.URL(), o.key(), g.ID),
			"inherited":   false, "allows_public_repositories": false, "restricted_to_workflows": false})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(groups), "runner_groups": groups})
}
