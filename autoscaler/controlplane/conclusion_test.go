package controlplane

import "testing"

// TestScaleSetConclusion: every result the scale-set service reports
// becomes the REST conclusion a node maps to its outcome, in any case.
func TestScaleSetConclusion(t *testing.T) {
	for _, tc := range []struct{ result, want string }{
		{"Succeeded", "success"},
		{"succeeded", "success"},
		{"SucceededWithIssues", "success"},
		{"Failed", "failure"},
		{"Canceled", "cancelled"},
		{"cancelled", "cancelled"},
		{"Abandoned", "cancelled"},
		{"Skipped", "skipped"},
		{"Mystery", "Mystery"},
	} {
		if got := conclusion(tc.result); got != tc.want {
			t.Errorf("conclusion(%q) = %q, want %q", tc.result, got, tc.want)
		}
	}
}
