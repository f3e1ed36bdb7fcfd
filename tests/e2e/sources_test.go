package e2e

import (
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestSourceStrategies runs jobs of one project one after the other on one
// slot and checks what each finds in its project directory under
// GIT_STRATEGY, GIT_CHECKOUT, GIT_CLEAN_FLAGS and GIT_DEPTH, with the
// checkout done by the sources helper.
func TestSourceStrategies(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	sha1 := srv.AddRepo(t, "group/strategies", map[string]string{"README.md": "first\n"})
	sha2 := srv.Commit(t, "group/strategies", map[string]string{"README.md": "second\n"})
	startAgent(t, srv, agentConfig{Concurrent: 1, Limit: 1})
	show := []string{
		`echo "readme=$(cat README.md)"`,
		`echo "head=$(cat .git/HEAD)"`,
		`echo "junk=$(cat junk 2>/dev/null || echo none)"`,
		`echo "shallow=$(test -s .git/shallow && echo yes || echo no)"`,
		`echo "planted=$(test -e .git/planted && echo yes || echo no)"`,
	}
	vars := func(kv ...string) []gitlabtest.Variable {
		var out []gitlabtest.Variable
		for i := 0; i < len(kv); i += 2 {
			out = append(out, gitlabtest.Variable{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	steps := []struct {
		name string
		sha  string
		vars []gitlabtest.Variable
		// then runs after show; it leaves state for the next step.
		then []string
		want []string
	}{
		{"fetch first commit", sha1, nil, []string{"echo dirt > junk", "echo changed > README.md", "touch .git/planted"},
			[]string{"readme=first", "head=" + sha1, "junk=none"}},
		{"fetch cleans and checks out", sha2, nil, nil,
			[]string{"readme=second", "head=" + sha2, "junk=none", "planted=yes"}},
		{"clean flags none keeps untracked files", sha2, vars("GIT_CLEAN_FLAGS", "none"), []string{"echo dirt > junk"},
			[]string{"readme=second", "junk=none"}},
		{"second job keeps them too", sha2, vars("GIT_CLEAN_FLAGS", "none"), []string{"echo edited > README.md"},
			[]string{"readme=second", "junk=dirt"}},
		{"checkout false leaves the work tree", sha1, vars("GIT_CHECKOUT", "false"), nil,
			[]string{"readme=edited", "head=" + sha2, "junk=dirt"}},
		{"depth 1 is shallow", sha2, vars("GIT_STRATEGY", "clone", "GIT_DEPTH", "1"), []string{"touch .git/planted"},
			[]string{"readme=second", "head=" + sha2, "shallow=yes"}},
		{"clone starts from nothing", sha1, vars("GIT_STRATEGY", "clone", "GIT_DEPTH", "0"), nil,
			[]string{"readme=first", "head=" + sha1, "junk=none", "shallow=no", "planted=no"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			id := srv.Enqueue(gitlabtest.JobSpec{ProjectPath: "group/strategies", SHA: st.sha, Variables: st.vars,
				Script: append(append([]string{}, show...), st.then...)})
			rec := srv.WaitFinal(t, id, jobWait)
			log := string(rec.Trace)
			if rec.State != gitlabtest.StateSuccess {
				t.Fatalf("job = %s (%s); log:\n%s", rec.State, rec.FailureReason, tail(log, 3000))
			}
			mustContain(t, log, st.want...)
		})
	}
	checkViolations(t, srv)
}
