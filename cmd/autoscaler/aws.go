package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/runfleet/runfleet/autoscaler/policy"
	awsprovider "github.com/runfleet/runfleet/autoscaler/provider/aws"
)

// awsProviderFile is [provider.aws]. Credentials come from the SDK's
// default chain (environment, shared config, the instance role); the
// static key pair exists for tests against a local fake only.
type awsProviderFile struct {
	Region string `toml:"region"`
	// Endpoint overrides the EC2 and Auto Scaling endpoint (a local fake
	// in tests, a VPC endpoint in production).
	Endpoint    string                 `toml:"endpoint"`
	MaxAttempts int                    `toml:"max_attempts"`
	Pools       map[string]awsPoolFile `toml:"pools"`
	Static      *awsStaticCredsFile    `toml:"static_credentials"`
	// IdentityCertificateFile is the PEM of the region's AWS "RSA" public
	// certificate for instance identity documents: nodes prove which
	// instance they are with their signed document (required).
	IdentityCertificateFile string `toml:"identity_certificate_file"`
	// AccountIDs limits the accounts identity documents may name.
	AccountIDs []string `toml:"account_ids"`
}

// awsPoolFile is [provider.aws.pools.NAME], NAME being a [[pools]] name.
type awsPoolFile struct {
	AutoScalingGroup      string            `toml:"auto_scaling_group"`
	LaunchTemplateID      string            `toml:"launch_template_id"`
	LaunchTemplateVersion string            `toml:"launch_template_version"`
	Subnets               map[string]string `toml:"subnets"` // zone → subnet id
	// WarmGroup is the on-demand Auto Scaling group (no mixed instances
	// policy) that carries the pool's [pools.warm_pool].
	WarmGroup string `toml:"warm_group"`
}

// awsStaticCredsFile is [provider.aws.static_credentials]: tests only.
type awsStaticCredsFile struct {
	AccessKeyID         string `toml:"access_key_id"`
	SecretAccessKeyFile string `toml:"secret_access_key_file"`
}

// awsProvider is the checked [provider.aws].
type awsProvider struct {
	Region      string
	Endpoint    string
	MaxAttempts int
	Pools       map[string]awsprovider.Pool
	// Credentials is nil for the SDK's default chain.
	Credentials aws.CredentialsProvider
	// IdentityCertificate is the PEM nodes' identity documents verify with.
	IdentityCertificate []byte
	AccountIDs          []string
}

// awsConfig checks [provider.aws] against the pools: every pool needs
// an Auto Scaling group or a launch template.
func awsConfig(f awsProviderFile, pools []policy.Pool) (awsProvider, error) {
	var errs []error
	a := awsProvider{Region: f.Region, Endpoint: f.Endpoint, MaxAttempts: f.MaxAttempts, Pools: map[string]awsprovider.Pool{}}
	if a.Region == "" {
		errs = append(errs, errors.New("[provider.aws] region is required"))
	}
	a.AccountIDs = f.AccountIDs
	if f.IdentityCertificateFile == "" {
		errs = append(errs, errors.New("[provider.aws] identity_certificate_file (the region's AWS RSA certificate for instance identity documents) is required: nodes prove which instance they are with it"))
	} else if pem, err := os.ReadFile(f.IdentityCertificateFile); err != nil {
		errs = append(errs, fmt.Errorf("[provider.aws] identity_certificate_file: %w", err))
	} else if _, err := awsprovider.NewIdentityVerifier(pem, max(a.Region, "-"), nil); err != nil {
		errs = append(errs, fmt.Errorf("[provider.aws] identity_certificate_file %s: %w", f.IdentityCertificateFile, err))
	} else {
		a.IdentityCertificate = pem
	}
	known := map[string]bool{}
	for _, p := range pools {
		known[p.Name] = true
		pf, ok := f.Pools[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("[provider.aws.pools.%s] is required for pool %q", p.Name, p.Name))
			continue
		}
		if pf.AutoScalingGroup == "" && pf.LaunchTemplateID == "" {
			errs = append(errs, fmt.Errorf("[provider.aws.pools.%s] needs auto_scaling_group or launch_template_id", p.Name))
		}
		if pf.LaunchTemplateID != "" && len(pf.Subnets) == 0 {
			errs = append(errs, fmt.Errorf("[provider.aws.pools.%s] launch_template_id needs subnets (zone → subnet id)", p.Name))
		}
		if len(p.Offerings) == 0 {
			errs = append(errs, fmt.Errorf("pool %q: the aws provider needs [[pools.offerings]]", p.Name))
		}
		ap := awsprovider.Pool{
			AutoScalingGroup: pf.AutoScalingGroup, LaunchTemplateID: pf.LaunchTemplateID,
			LaunchTemplateVersion: pf.LaunchTemplateVersion, Subnets: pf.Subnets, Offerings: p.Offerings,
		}
		switch {
		case p.WarmPool != nil && pf.WarmGroup == "":
			errs = append(errs, fmt.Errorf("[provider.aws.pools.%s] warm_group (an on-demand Auto Scaling group without a mixed instances policy: warm pools take no Spot) is required for [pools.warm_pool]", p.Name))
		case p.WarmPool != nil:
			ap.WarmGroup, ap.WarmReuseOnScaleIn = pf.WarmGroup, p.WarmPool.ReuseOnScaleIn
			if st := string(p.WarmPool.State); st != "" {
				ap.WarmPoolState = strings.ToUpper(st[:1]) + st[1:] // the Auto Scaling PoolState
			}
		}
		a.Pools[p.Name] = ap
	}
	var extra []string
	for name := range f.Pools {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		errs = append(errs, fmt.Errorf("[provider.aws.pools.%s]: no [[pools]] has that name", name))
	}
	if s := f.Static; s != nil {
		secret, err := readSecret("[provider.aws.static_credentials] secret_access_key_file", s.SecretAccessKeyFile)
		if err != nil {
			errs = append(errs, err)
		}
		if s.AccessKeyID == "" {
			errs = append(errs, errors.New("[provider.aws.static_credentials] access_key_id is required"))
		}
		a.Credentials = credentials.NewStaticCredentialsProvider(s.AccessKeyID, secret, "")
	}
	return a, errors.Join(errs...)
}

// newAWSProvider builds the aws provider from the checked config.
func newAWSProvider(ctx context.Context, c *config, logger *slog.Logger) (*awsprovider.Provider, error) {
	return awsprovider.New(ctx, awsprovider.Config{
		Fleet: c.Fleet, Region: c.AWS.Region, Endpoint: c.AWS.Endpoint, Credentials: c.AWS.Credentials,
		MaxAttempts: c.AWS.MaxAttempts, Pools: c.AWS.Pools, Logger: logger,
		IdentityCertificate: c.AWS.IdentityCertificate, AccountIDs: c.AWS.AccountIDs,
	})
}
