package gitlabtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Enqueue queues a job and returns its id. Runners waiting in a long poll
// are woken (they get 204 with a new X-GitLab-Last-Update and must poll
// again to get the job, as with GitLab).
func (s *Server) Enqueue(spec JobSpec) int64 {
	spec = spec.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[spec.ProjectPath]; rp != nil && spec.SHA == "" {
		spec.SHA = rp.head
	}
	if spec.SHA == "" {
		spec.SHA = strings.Repeat("0", 40)
	}
	id := s.nextJobID
	s.nextJobID++
	pipeline := spec.PipelineID
	if pipeline == 0 {
		pipeline = s.nextPipelineID
		s.nextPipelineID++
	}
	j := &job{
		id: id, pipelineID: pipeline, spec: spec, beforeSHA: strings.Repeat("0", 40),
		state: StatePending, enqueuedAt: s.cfg.now(), final: make(chan struct{}),
	}
	j.event("enqueued")
	s.jobs[id] = j
	s.order = append(s.order, id)
	s.tickLocked()
	return id
}

// tickLocked records a queue change and wakes held long polls.
func (s *Server) tickLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// lastUpdateLocked is the queue version as sent in X-GitLab-Last-Update.
func (s *Server) lastUpdateLocked() string {
	return "v" + strconv.FormatUint(s.version, 10)
}

// payloadLocked builds the job JSON GitLab would hand to the runner.
func (s *Server) payloadLocked(j *job) []byte {
	sp := j.spec
	u, _ := url.Parse(s.http.URL)
	repoURL := fmt.Sprintf("%s://gitlab-ci-token:%s@%s/%s.git", u.Scheme, j.token, u.Host, sp.ProjectPath)
	cleanRepo := fmt.Sprintf("%s/%s.git", s.http.URL, sp.ProjectPath)
	projectName := sp.ProjectPath[strings.LastIndex(sp.ProjectPath, "/")+1:]
	vars := []payloadVar{
		{Key: "CI", Value: "true", Public: true},
		{Key: "GITLAB_CI", Value: "true", Public: true},
		{Key: "CI_SERVER_URL", Value: s.http.URL, Public: true},
		{Key: "CI_JOB_ID", Value: strconv.FormatInt(j.id, 10), Public: true},
		{Key: "CI_JOB_NAME", Value: sp.Name, Public: true},
		{Key: "CI_JOB_STAGE", Value: sp.Stage, Public: true},
		{Key: "CI_JOB_TOKEN", Value: j.token, Masked: true},
		{Key: "CI_PIPELINE_ID", Value: strconv.FormatInt(j.pipelineID, 10), Public: true},
		{Key: "CI_PROJECT_ID", Value: strconv.FormatInt(sp.ProjectID, 10), Public: true},
		{Key: "CI_PROJECT_NAME", Value: projectName, Public: true},
		{Key: "CI_PROJECT_PATH", Value: sp.ProjectPath, Public: true},
		{Key: "CI_REPOSITORY_URL", Value: repoURL, Public: false},
		{Key: "CI_PROJECT_URL", Value: strings.TrimSuffix(cleanRepo, ".git"), Public: true},
		{Key: "CI_COMMIT_SHA", Value: sp.SHA, Public: true},
		{Key: "CI_COMMIT_REF_NAME", Value: sp.Ref, Public: true},
		{Key: "CI_REGISTRY_PASSWORD", Value: j.token, Masked: true},
	}
	for _, v := range sp.Variables {
		vars = append(vars, payloadVar(v))
	}
	script := append(append([]string{}, sp.BeforeScript...), sp.Script...)
	steps := []payloadStep{{Name: "script", Script: script, Timeout: sp.Timeout, When: "on_success", AllowFailure: sp.AllowFailure}}
	if len(sp.AfterScript) > 0 {
		steps = append(steps, payloadStep{Name: "after_script", Script: sp.AfterScript, Timeout: sp.Timeout, When: "always"})
	}
	if len(sp.Release) > 0 {
		steps = append(steps, payloadStep{Name: "release", Script: sp.Release, Timeout: sp.Timeout, When: "on_success"})
	}
	if sp.Steps != nil {
		steps = steps[:0]
		for _, st := range sp.Steps {
			if st.Timeout == 0 {
				st.Timeout = sp.Timeout
			}
			steps = append(steps, payloadStep(st))
		}
	}
	p := jobPayload{
		ID: j.id, Token: j.token, AllowGitFetch: true,
		JobInfo: payloadJobInfo{
			ID: j.id, Name: sp.Name, Stage: sp.Stage, PipelineID: j.pipelineID, ProjectID: sp.ProjectID,
			ProjectName: projectName, ProjectFullPath: sp.ProjectPath,
			TimeInQueueSeconds: int64(s.cfg.now().Sub(j.enqueuedAt).Seconds()),
		},
		GitInfo: payloadGitInfo{
			RepoURL: repoURL, Ref: sp.Ref, SHA: sp.SHA, BeforeSHA: j.beforeSHA, RefType: "branch",
			Refspecs: []string{"+refs/heads/" + sp.Ref + ":refs/remotes/origin/" + sp.Ref}, Depth: sp.Depth,
		},
		RunnerInfo:  payloadRunner{Timeout: sp.Timeout},
		Variables:   vars,
		Steps:       steps,
		Hooks:       []payloadHook{},
		Services:    []payloadImage{},
		Artifacts:   []payloadArt{},
		Cache:       []payloadCache{},
		Credentials: []payloadCred{},
		Features: payloadFeatures{
			TraceSections: true, TokenMaskPrefixes: []string{"glpat-", "glcbt-", "glrt-"},
			FailureReasons: sp.FailureReasons, FutureFeature: true,
		},
		PolicyOptions: map[string]any{"execution_policy_job": false},
		FutureField:   json.RawMessage(`{"nested":[1,2,3]}`),
	}
	for _, h := range sp.Hooks {
		p.Hooks = append(p.Hooks, payloadHook(h))
	}
	if sp.Image != nil {
		img := imagePayload(*sp.Image)
		p.Image = &img
	}
	for _, svc := range sp.Services {
		p.Services = append(p.Services, imagePayload(svc))
	}
	for _, a := range sp.Artifacts {
		p.Artifacts = append(p.Artifacts, payloadArt{Name: a.Name, Untracked: a.Untracked, Paths: a.Paths, Exclude: a.Exclude, When: a.When, ArtifactType: a.ArtifactType, ArtifactFormat: a.ArtifactFormat, ExpireIn: a.ExpireIn})
	}
	for _, c := range sp.Cache {
		p.Cache = append(p.Cache, payloadCache{Key: c.Key, Untracked: c.Untracked, Policy: c.Policy, Paths: c.Paths, When: c.When, FallbackKeys: c.FallbackKeys})
	}
	for _, c := range sp.Credentials {
		p.Credentials = append(p.Credentials, payloadCred(c))
	}
	for _, depID := range sp.Dependencies {
		d := s.jobs[depID]
		if d == nil {
			continue
		}
		dep := payloadDep{ID: d.id, Name: d.spec.Name, Token: j.token}
		if u, ok := d.artifact("archive"); ok {
			dep.ArtifactsFile = &payloadArtsFile{Filename: u.Filename, Size: int64(len(u.Data))}
		}
		p.Dependencies = append(p.Dependencies, dep)
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("gitlabtest: marshal payload: %v", err))
	}
	return b
}

func imagePayload(i Image) payloadImage {
	p := payloadImage{Name: i.Name, Alias: i.Alias, Entrypoint: i.Entrypoint, Command: i.Command, Ports: []payloadPort{}, PullPolicy: i.PullPolicy}
	for _, port := range i.Ports {
		p.Ports = append(p.Ports, payloadPort(port))
	}
	for _, v := range i.Variables {
		p.Variables = append(p.Variables, payloadVar(v))
	}
	return p
}
