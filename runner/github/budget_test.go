package github

import (
	"context"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
)

func TestMintBudgetsSharedPerCredential(t *testing.T) {
	b := NewMintBudgets()
	app := b.For(BudgetKey("github.com", 42, ""), 0)
	if b.For(BudgetKey("GitHub.com", 42, ""), 10) != app {
		t.Error("two users of one App got separate budgets")
	}
	if b.For(BudgetKey("github.com", 43, ""), 0) == app || b.For(BudgetKey("ghe.example", 42, ""), 0) == app {
		t.Error("another App or host shares the budget")
	}
	if b.For(BudgetKey("github.com", 0, "ghp_a"), 0) == b.For(BudgetKey("github.com", 0, "ghp_b"), 0) {
		t.Error("two tokens share a budget")
	}
	if got := app.Burst(); got != DefaultJITPerMinute/6 {
		t.Errorf("burst %d", got)
	}
	// A shared bucket spent by one user is spent for the other.
	one := b.For("k", 60)
	for range one.Burst() {
		if !one.Allow() {
			t.Fatal("burst refused")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := b.For("k", 60).Wait(ctx); err == nil {
		t.Error("the second user of a spent budget minted at once")
	}
}

func TestConclusionOutcome(t *testing.T) {
	for _, c := range []struct {
		conclusion string
		want       runner.Outcome
	}{
		{"success", runner.Outcome{State: "success"}},
		{"failure", runner.Outcome{State: "failed", FailureReason: "script_failure"}},
		{"cancelled", runner.Outcome{State: "canceled"}},
		{"timed_out", runner.Outcome{State: "failed", FailureReason: "job_execution_timeout"}},
		{"startup_failure", runner.Outcome{State: "failed", FailureReason: "unknown_failure"}},
	} {
		if got := ConclusionOutcome(c.conclusion); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.conclusion, got, c.want)
		}
	}
}

func TestParseJobRef(t *testing.T) {
	var ref JobRef
	parseJobRef(&ref, []string{"repo=acme/app", "run_id=9000001", "run_attempt=2", "junk"})
	if ref != (JobRef{Repo: "acme/app", RunID: 9000001, RunAttempt: 2}) || !ref.Valid() {
		t.Errorf("%+v", ref)
	}
	var empty JobRef
	parseJobRef(&empty, []string{"repo=", "run_id=", "run_attempt="})
	if empty.Valid() {
		t.Errorf("hooks outside a job gave %+v", empty)
	}
}
