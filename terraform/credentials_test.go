package tfcheck

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/runfleet/runfleet/terraform/tfrender"
)

// TestPlatformCredentialReaders: the IAM policies let exactly one side read the platform
// credential (runner_secret_arn): GitLab's runner token the nodes, GitHub's App key the
// autoscaler, which mints the nodes' JIT runners; the other side gets no read on it.
func TestPlatformCredentialReaders(t *testing.T) {
	mod, err := tfrender.Load(filepath.Join("modules", "aws-fleet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		platform         string
		node, autoscaler bool
	}{
		{"gitlab", true, false},
		{"github", false, true},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			in := tfrender.Sample(tc.platform)
			for _, side := range []struct {
				local string
				want  bool
			}{{"node_ssm_arns", tc.node}, {"scaler_ssm_arns", tc.autoscaler}} {
				v, err := mod.Local(side.local, in)
				if err != nil {
					t.Fatal(err)
				}
				var arns []string
				for it := v.ElementIterator(); it.Next(); {
					_, e := it.Element()
					arns = append(arns, e.AsString())
				}
				if got := slices.Contains(arns, tfrender.SampleRunnerSecretARN); got != side.want {
					t.Errorf("%s holds the platform credential: %v, want %v (%v)", side.local, got, side.want, arns)
				}
			}
		})
	}
}
