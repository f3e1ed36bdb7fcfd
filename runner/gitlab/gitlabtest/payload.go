package gitlabtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// payloadLocked builds the job JSON GitLab hands out for j.
func (s *Server) payloadLocked(j *job) []byte {
	spec := j.spec
	base, _ := url.Parse(s.URL())
	repoURL := fmt.Sprintf("%s://gitlab-ci-token:%s@%s/%s.git", base.Scheme, j.token, base.Host, spec.ProjectPath)

	depth := spec.Depth
	for _, v := range spec.Variables {
		if v.Key == "GIT_DEPTH" {
			if d, err := strconv.Atoi(v.Value); err == nil {
				depth = d
			}
		}
	}
	p := jobPayload{
		ID:            j.id,
		Token:         j.token,
		AllowGitFetch: true,
		JobInfo: payloadJobInfo{
			ID:                 j.id,
			Name:               spec.Name,
			Stage:              spec.Stage,
			PipelineID:         j.pipelineID,
			ProjectID:          spec.ProjectID,
			ProjectName:        path.Base(spec.ProjectPath),
			ProjectFullPath:    spec.ProjectPath,
			TimeInQueueSeconds: int64(s.cfg.now().Sub(j.enqueuedAt).Seconds()),
			QueueSize:          s.queueSizeLocked(),
			QueueDepth:         s.queueSizeLocked(),
		},
		GitInfo: payloadGitInfo{
			RepoURL:   repoURL,
			Ref:       refName(spec.Ref),
			SHA:       spec.SHA,
			BeforeSHA: j.beforeSHA,
			RefType:   refType(spec.Ref),
			Refspecs:  s.refspecsLocked(j, depth),
			Depth:     depth,
		},
		RunnerInfo:    payloadRunner{Timeout: spec.Timeout},
		Variables:     s.variablesLocked(j, repoURL),
		Steps:         steps(spec),
		Hooks:         []payloadHook{},
		Services:      []payloadImage{},
		Artifacts:     []payloadArt{},
		Cache:         []payloadCache{},
		Credentials:   []payloadCred{},
		Dependencies:  []payloadDep{},
		PolicyOptions: map[string]any{"execution_policy_job": false},
		FutureField:   json.RawMessage(`{"nested":[1,"two",{"three":3}],"enabled":true}`),
		Inputs:        []map[string]any{{"name": "unused", "value": 1}},
		Features: payloadFeatures{
			TraceSections:     true,
			TokenMaskPrefixes: []string{"glpat-", "glcbt-", "glrt-"},
			FailureReasons:    spec.FailureReasons,
			FutureFeature:     true,
		},
	}
	for _, h := range spec.Hooks {
		p.Hooks = append(p.Hooks, payloadHook{Name: h.Name, Script: h.Script})
	}
	if spec.Image != nil {
		img := imagePayload(*spec.Image)
		p.Image = &img
	}
	for _, svc := range spec.Services {
		p.Services = append(p.Services, imagePayload(svc))
	}
	for _, a := range spec.Artifacts {
		p.Artifacts = append(p.Artifacts, payloadArt{
			Name: a.Name, Untracked: a.Untracked, Paths: nonNil(a.Paths), Exclude: nonNil(a.Exclude),
			When: a.When, ArtifactType: a.ArtifactType, ArtifactFormat: a.ArtifactFormat, ExpireIn: a.ExpireIn,
		})
	}
	for _, c := range spec.Cache {
		p.Cache = append(p.Cache, payloadCache{
			Key: c.Key, Untracked: c.Untracked, Policy: c.Policy, Paths: nonNil(c.Paths),
			When: c.When, FallbackKeys: nonNil(c.FallbackKeys),
		})
	}
	for _, c := range spec.Credentials {
		p.Credentials = append(p.Credentials, payloadCred(c))
	}
	for _, d := range spec.Dependencies {
		dj := s.jobs[d]
		dep := payloadDep{ID: d, Name: dj.spec.Name, Token: j.token}
		if u, ok := dj.artifact("archive"); ok {
			dep.ArtifactsFile = &payloadArtsFile{Filename: "artifacts.zip", Size: int64(len(u.Data))}
		}
		p.Dependencies = append(p.Dependencies, dep)
	}
	b, err := json.Marshal(p)
	if err != nil {
		s.tb.Errorf("gitlabtest: marshal payload: %v", err)
	}
	return b
}

func (s *Server) queueSizeLocked() int {
	n := 0
	for _, id := range s.order {
		if j := s.jobs[id]; j.state == StatePending && !j.assigned {
			n++
		}
	}
	return n
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func refName(ref string) string {
	if rest, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return rest
	}
	return strings.TrimPrefix(ref, "refs/heads/")
}

func refType(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return "tag"
	}
	return "branch"
}

// refspecsLocked follows GitLab's BuildRunnerPresenter#refspecs.
func (s *Server) refspecsLocked(j *job, depth int) []string {
	var specs []string
	if _, ok := s.repos[j.spec.ProjectPath]; ok {
		specs = append(specs, fmt.Sprintf("+refs/pipelines/%d:refs/pipelines/%d", j.pipelineID, j.pipelineID))
	}
	ref := j.spec.Ref
	switch {
	case strings.HasPrefix(ref, "refs/merge-requests/"):
		specs = append(specs, fmt.Sprintf("+%s:%s", ref, ref))
	case depth == 0:
		specs = append(specs, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	case refType(ref) == "tag":
		specs = append(specs, fmt.Sprintf("+refs/tags/%s:refs/tags/%s", refName(ref), refName(ref)))
	default:
		specs = append(specs, fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", refName(ref), refName(ref)))
	}
	return specs
}

func imagePayload(img Image) payloadImage {
	p := payloadImage{
		Name: img.Name, Alias: img.Alias, Entrypoint: img.Entrypoint, Command: img.Command,
		Ports: []payloadPort{}, PullPolicy: img.PullPolicy,
	}
	for _, port := range img.Ports {
		p.Ports = append(p.Ports, payloadPort(port))
	}
	for _, v := range img.Variables {
		p.Variables = append(p.Variables, payloadVar(v))
	}
	return p
}

func steps(spec JobSpec) []payloadStep {
	if spec.Steps != nil {
		out := make([]payloadStep, 0, len(spec.Steps))
		for _, st := range spec.Steps {
			if st.Timeout == 0 {
				st.Timeout = spec.Timeout
			}
			if st.When == "" {
				st.When = "on_success"
			}
			out = append(out, payloadStep(st))
		}
		return out
	}
	script := append(append([]string{}, spec.BeforeScript...), spec.Script...)
	out := []payloadStep{{Name: "script", Script: nonNil(script), Timeout: spec.Timeout, When: "on_success", AllowFailure: spec.AllowFailure}}
	if len(spec.Release) > 0 {
		out = append(out, payloadStep{Name: "release", Script: spec.Release, Timeout: spec.Timeout, When: "on_success"})
	}
	if len(spec.AfterScript) > 0 {
		out = append(out, payloadStep{Name: "after_script", Script: spec.AfterScript, Timeout: spec.Timeout, When: "always", AllowFailure: true})
	}
	return out
}

// variablesLocked returns GitLab's predefined variables followed by the
// job's own (later entries win in the runner).
func (s *Server) variablesLocked(j *job, repoURL string) []payloadVar {
	spec := j.spec
	base, _ := url.Parse(s.URL())
	projectURL := s.URL() + "/" + spec.ProjectPath
	namespace := path.Dir(spec.ProjectPath)
	pub := func(k, v string) payloadVar { return payloadVar{Key: k, Value: v, Public: true} }
	ref := refName(spec.Ref)
	vars := []payloadVar{
		pub("CI_PIPELINE_ID", strconv.FormatInt(j.pipelineID, 10)),
		pub("CI_PIPELINE_URL", fmt.Sprintf("%s/-/pipelines/%d", projectURL, j.pipelineID)),
		pub("CI_JOB_ID", strconv.FormatInt(j.id, 10)),
		pub("CI_JOB_URL", fmt.Sprintf("%s/-/jobs/%d", projectURL, j.id)),
		{Key: "CI_JOB_TOKEN", Value: j.token, Public: false, Masked: true},
		pub("CI_JOB_STARTED_AT", s.cfg.now().UTC().Format("2006-01-02T15:04:05Z")),
		pub("CI_REGISTRY_USER", "gitlab-ci-token"),
		{Key: "CI_REGISTRY_PASSWORD", Value: j.token, Public: false, Masked: true},
		{Key: "CI_REPOSITORY_URL", Value: repoURL, Public: false, Masked: false},
		{Key: "CI_DEPENDENCY_PROXY_PASSWORD", Value: j.token, Public: false, Masked: true},
		pub("CI", "true"),
		pub("GITLAB_CI", "true"),
		pub("CI_SERVER_URL", s.URL()),
		pub("CI_SERVER_HOST", base.Hostname()),
		pub("CI_SERVER_PORT", base.Port()),
		pub("CI_SERVER_PROTOCOL", base.Scheme),
		pub("CI_SERVER_NAME", "GitLab"),
		pub("CI_SERVER_VERSION", "18.5.0-fake"),
		pub("CI_PROJECT_ID", strconv.FormatInt(spec.ProjectID, 10)),
		pub("CI_PROJECT_NAME", path.Base(spec.ProjectPath)),
		pub("CI_PROJECT_TITLE", path.Base(spec.ProjectPath)),
		pub("CI_PROJECT_PATH", spec.ProjectPath),
		pub("CI_PROJECT_PATH_SLUG", slug(spec.ProjectPath)),
		pub("CI_PROJECT_NAMESPACE", namespace),
		pub("CI_PROJECT_ROOT_NAMESPACE", strings.Split(spec.ProjectPath, "/")[0]),
		pub("CI_PROJECT_URL", projectURL),
		pub("CI_PROJECT_VISIBILITY", "private"),
		pub("CI_DEFAULT_BRANCH", "main"),
		pub("CI_PIPELINE_IID", "1"),
		pub("CI_PIPELINE_SOURCE", "push"),
		pub("CI_COMMIT_SHA", spec.SHA),
		pub("CI_COMMIT_SHORT_SHA", spec.SHA[:min(8, len(spec.SHA))]),
		pub("CI_COMMIT_BEFORE_SHA", j.beforeSHA),
		pub("CI_COMMIT_REF_NAME", ref),
		pub("CI_COMMIT_REF_SLUG", slug(ref)),
		pub("CI_COMMIT_REF_PROTECTED", "false"),
		pub("CI_JOB_NAME", spec.Name),
		pub("CI_JOB_NAME_SLUG", slug(spec.Name)),
		pub("CI_JOB_STAGE", spec.Stage),
		pub("CI_NODE_TOTAL", "1"),
		pub("CI_RUNNER_ID", strconv.FormatInt(j.runner.id, 10)),
	}
	if refType(spec.Ref) == "tag" {
		vars = append(vars, pub("CI_COMMIT_TAG", ref))
	} else {
		vars = append(vars, pub("CI_COMMIT_BRANCH", ref))
	}
	for _, v := range spec.Variables {
		vars = append(vars, payloadVar(v))
	}
	return vars
}

// slug is GitLab's CI_*_SLUG: lowercased, non-alphanumerics replaced by -,
// at most 63 bytes, no leading or trailing -.
func slug(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return strings.Trim(string(b), "-")
}
