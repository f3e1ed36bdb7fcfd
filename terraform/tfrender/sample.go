package tfrender

import (
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Sample values of the aws-fleet module's inputs, shaped like real ones.
const (
	SampleFleet            = "acme-ci"
	SampleGroup            = SampleFleet + "-nodes"
	SampleRunnerSecretARN  = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/runner-token"
	SampleJoinTokenARN     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/ci/join-AbCdEf"
	SampleAPITokenARN      = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/api-token"
	SampleWebhookSecretARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/webhook-secret"
	SampleAutoscalerIP     = "10.0.1.10"
	SampleFleetCAName      = "/runfleet/" + SampleFleet + "/fleet-ca-certificate"
	SampleFleetCAARN       = "arn:aws:ssm:eu-west-1:123456789012:parameter" + SampleFleetCAName
	SampleRunnerImage      = "ghcr.io/acme/github-runner:2.327.1@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// SampleIdentityCertificate stands in for the region's AWS RSA certificate of instance
// identity documents: a self-signed certificate whose key was thrown away.
const SampleIdentityCertificate = `-----BEGIN CERTIFICATE-----
MIIDaTCCAlGgAwIBAgIUVVjW8xEWznGXLgF2YLdzWbOZhfgwDQYJKoZIhvcNAQEL
BQAwQzEoMCYGA1UEAwwfcnVuZmxlZXQgdGVzdCBpbnN0YW5jZSBpZGVudGl0eTEX
MBUGA1UECgwOcnVuZmxlZXQgdGVzdHMwIBcNMjYxMjA0MTgyMjMwWhgPMjEyNjEx
MTAxODIyMzBaMEMxKDAmBgNVBAMMH3J1bmZsZWV0IHRlc3QgaW5zdGFuY2UgaWRl
bnRpdHkxFzAVBgNVBAoMDnJ1bmZsZWV0IHRlc3RzMIIBIjANBgkqhkiG9w0BAQEF
AAOCAQ8AMIIBCgKCAQEAqQcmALrDM0IG+jgOnqITxaBfiiQ2j8l6Wb/k3aldoCq6
7BaYgunjlkqNCzaLmpM3KlKcW1ddthl6FioLd44JpVmh2uEoMuAwmueGOXUTz916
lezTiNOvuWJD3f3QD5fxHOtHnioOcX8JLWie6D3Xs0ccvoNFIvbD6PO7fu9lsElQ
KRk5gdT5PXHfGJtvjr7uKQspUTkdrb5fFKBWpk75NUbIlKAktTRwh75LN50wRtxU
pKVaSWQdlTXRXNadJaf2QT1uMABLLq8YamMQe6N/ncfvDbFJT6zMUu+wg0BgzxJu
jgts2mbVspGqS0usSH0P0VpPOAlO4SpT6Psernf0hwIDAQABo1MwUTAdBgNVHQ4E
FgQUAgjQNVfYIqQnVPfZGjuWbnuOzScwHwYDVR0jBBgwFoAUAgjQNVfYIqQnVPfZ
GjuWbnuOzScwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEATts6
USz3LC7BRvTcZzyAwau6GXoSZw4MyfuUHYjuRarZJymFl2FcwAopbLytqaqsy8KT
rgZlchL7Hf1e1A1ZJMuVt37FsWZ+WVby0gwQ738mBBk9zzvoN1NZR98mqSQxPaKQ
lRYOuz/ctKoe0keloom0UCgiIkRuiPalqJ7iGJY+0RFI7yRXYDO9dEKi5Tb77jF/
ZNXdEUHRzltzF9uXCx4TDCaqtIUreTl8/VapQ+Ym768R2OlMvHCy5+XGBReY4toI
DVo5Ossq4sZ0iJUrW+4Ie892ojuaZymb0pdU46H8W7t7/hTTqjKubYJEpOugCBix
ASAtUZiTQpehDKshOQ==
-----END CERTIFICATE-----
`

// SampleSHA256 is the agent_sha256 and autoscaler_sha256 of Sample.
var SampleSHA256 = strings.Repeat("ab", 32)

// Sample returns the inputs of an aws-fleet module named SampleFleet on platform ("gitlab" or
// "github") in eu-west-1 with two subnets, demand from the platform's API configured, and
// the attributes of every resource and data source the module's locals read.
func Sample(platform string) Inputs {
	str := cty.StringVal
	list := func(s ...string) cty.Value {
		vals := make([]cty.Value, len(s))
		for i, v := range s {
			vals[i] = str(v)
		}
		return cty.ListVal(vals)
	}
	vars := map[string]cty.Value{
		"name":                   str(SampleFleet),
		"platform":               str(platform),
		"runner_secret_arn":      str(SampleRunnerSecretARN),
		"fleet_join_token_arn":   str(SampleJoinTokenARN),
		"platform_api_token_arn": str(SampleAPITokenARN),
		"subnet_ids":             list("subnet-0123456789abcdef0", "subnet-0fedcba9876543210"),
		"agent_sha256":           str(SampleSHA256),
		"autoscaler_sha256":      str(SampleSHA256),
		"job_limits": cty.ObjectVal(map[string]cty.Value{
			"cpus": str("1.5"), "memory": str("2g"), "pids_limit": cty.NumberIntVal(4096),
		}),
		"instance_types":                list("m7i.large", "m6i.large"),
		"instance_prices":               cty.MapVal(map[string]cty.Value{"m7i.large": cty.ObjectVal(map[string]cty.Value{"on_demand": cty.NumberFloatVal(0.1008), "spot": cty.NumberFloatVal(0.0381)})}),
		"min_idle_slots":                cty.NumberIntVal(2),
		"instance_identity_certificate": str(SampleIdentityCertificate),
	}
	switch platform {
	case "gitlab":
		vars["gitlab_url"] = str("https://gitlab.example.com")
		vars["gitlab_projects"] = list("acme/app", "42")
	case "github":
		vars["github_url"] = str("https://github.com/acme")
		vars["github_app_id"] = cty.NumberIntVal(123456)
		vars["github_installation_id"] = cty.NumberIntVal(7654321)
		vars["github_runner_group"] = str("ci")
		vars["github_runner_image"] = str(SampleRunnerImage)
		vars["github_webhook_secret_arn"] = str(SampleWebhookSecretARN)
		vars["github_repos"] = list("acme/app")
	}
	return Inputs{Vars: vars, Resources: map[string]cty.Value{
		"data.aws_partition.current.partition":         str("aws"),
		"data.aws_partition.current.dns_suffix":        str("amazonaws.com"),
		"data.aws_region.current.name":                 str("eu-west-1"),
		"data.aws_caller_identity.current.account_id":  str("123456789012"),
		"data.aws_subnet.first.vpc_id":                 str("vpc-0123456789abcdef0"),
		"data.aws_subnet.autoscaler.availability_zone": str("eu-west-1a"),
		"data.aws_subnet.nodes[0].availability_zone":   str("eu-west-1a"),
		"data.aws_subnet.nodes[1].availability_zone":   str("eu-west-1b"),
		"data.aws_ami.debian[0].id":                    str("ami-0123456789abcdef0"),
		"aws_s3_bucket.cache[0].id":                    str("ci-cache-0123"),
		"aws_instance.autoscaler.private_ip":           str(SampleAutoscalerIP),
		"aws_ebs_volume.autoscaler_state.id":           str("vol-0123456789abcdef0"),
		"aws_sqs_queue.interruptions.url":              str("https://sqs.eu-west-1.amazonaws.com/123456789012/ci-interruptions"),
		"aws_ssm_parameter.fleet_ca.arn":               str(SampleFleetCAARN),
		"aws_ssm_parameter.fleet_ca.name":              str(SampleFleetCAName),
	}}
}

// WithVars returns in with vars set over its variables.
func (in Inputs) WithVars(vars map[string]cty.Value) Inputs {
	out := Inputs{Vars: map[string]cty.Value{}, Resources: in.Resources}
	for k, v := range in.Vars {
		out.Vars[k] = v
	}
	for k, v := range vars {
		out.Vars[k] = v
	}
	return out
}
