package main

import (
	"testing"

	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

// testIdentitySigner stands in for AWS's instance identity signing key.
func testIdentitySigner(t *testing.T) *awstest.IdentitySigner {
	t.Helper()
	s, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
