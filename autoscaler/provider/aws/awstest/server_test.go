package awstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestRejects(t *testing.T) {
	s := New("eu-west-1", "AKID", "SECRET")
	defer s.Close()
	tests := []struct {
		name, body, service, method string
		sign                        bool
		status                      int
		code                        string
	}{
		{"unsigned", "Action=DescribeInstances&Version=2016-11-15", "ec2", "POST", false, 401, "MissingAuthenticationToken"},
		{"unknown action", "Action=RunInstances&Version=2016-11-15", "ec2", "POST", true, 400, "InvalidAction"},
		{"unknown parameter", "Action=DescribeInstances&Version=2016-11-15&Bogus=1", "ec2", "POST", true, 400, "UnknownParameter"},
		{"scope names the other service", "Action=DescribeAutoScalingGroups&Version=2011-01-01", "ec2", "POST", true, 403, "SignatureDoesNotMatch"},
		{"autoscaling unknown parameter", "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=x&DesiredCapacity=1&Force=true", "autoscaling", "POST", true, 400, "InvalidParameterValue"},
		{"unknown version", "Action=DescribeInstances&Version=2014-01-01", "ec2", "POST", true, 400, "InvalidParameterValue"},
		{"GET", "", "ec2", "GET", true, 405, "InvalidHttpRequest"},
		{"ok", "Action=DescribeInstances&Version=2016-11-15", "ec2", "POST", true, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL+"/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			if tt.sign {
				sum := sha256.Sum256([]byte(tt.body))
				err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, req, hex.EncodeToString(sum[:]), tt.service, "eu-west-1", time.Now())
				if err != nil {
					t.Fatal(err)
				}
			}
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.code) {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, b, tt.status, tt.code)
			}
		})
	}
}
