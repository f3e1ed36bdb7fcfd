// Package aws is the autoscaler's node provider for Amazon EC2. A pool is
// either an Auto Scaling group with a mixed instances policy (grown with
// SetDesiredCapacity, shrunk by terminating the named, drained instance
// with ShouldDecrementDesiredCapacity while every other instance carries
// scale-in protection, so the group never picks a busy node itself) or,
// when the pool names a launch template, EC2 Fleet `instant` requests with
// one override per offering, whose per-offering errors become typed
// provider.CapacityErrors. Throttling becomes provider.ThrottledError.
//
// The node's bootstrap (fleet URL, join token) lives in the launch
// template's user data, managed outside (Terraform), never in tags.
package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// Pool says how one node pool is launched.
type Pool struct {
	// AutoScalingGroup is the group holding the pool's nodes. Its tags
	// must include provider.LabelManaged, LabelFleet and LabelPool with
	// PropagateAtLaunch, and NewInstancesProtectedFromScaleIn should be set.
	AutoScalingGroup string
	// LaunchTemplateID, when set, makes Launch use EC2 Fleet instant
	// requests (per-offering control and errors) instead of the group.
	LaunchTemplateID      string
	LaunchTemplateVersion string // default "$Latest"
	// Subnets maps an availability zone to the subnet used there.
	Subnets map[string]string
	// Offerings are what Offerings reports and the price List attaches.
	Offerings []policy.Offering
	// WarmGroup, when set, is an Auto Scaling group of on-demand
	// instances (one launch template, no mixed instances policy: warm
	// pools take no Spot) that carries the pool's warm pool; warm launches
	// grow it, and it takes from its warm pool first (warmpool.go).
	WarmGroup string
	// WarmPoolState is the state warm instances wait in: Stopped
	// (default), Hibernated or Running.
	WarmPoolState string
	// WarmReuseOnScaleIn returns scaled-in instances to the warm pool.
	WarmReuseOnScaleIn bool
}

// Config configures a Provider.
type Config struct {
	// Fleet names this control plane's fleet (tag provider.LabelFleet).
	Fleet  string
	Region string
	// Endpoint overrides both services' endpoint (BaseEndpoint), e.g. a
	// local fake in tests.
	Endpoint string
	// Credentials; nil uses the SDK's default chain.
	Credentials aws.CredentialsProvider
	// MaxAttempts per call, throttled ones included (default 3; 1 hands
	// every throttle straight to the control loop's backoff).
	MaxAttempts int
	HTTPClient  *http.Client
	Pools       map[string]Pool
	Logger      *slog.Logger
	// IdentityCertificate is the PEM of the region's AWS RSA public
	// certificate for instance identity documents (identity.go); without
	// it no node can register.
	IdentityCertificate []byte
	// AccountIDs, when set, are the accounts identity documents may name.
	AccountIDs []string
}

// Provider launches, lists and terminates EC2 nodes.
type Provider struct {
	cfg      Config
	ec2      *ec2.Client
	as       *autoscaling.Client
	log      *slog.Logger
	identity *IdentityVerifier
}

// New builds a provider; it makes no call yet.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Fleet == "" || cfg.Region == "" {
		return nil, errors.New("aws provider: fleet and region are required")
	}
	for name, p := range cfg.Pools {
		if p.AutoScalingGroup == "" && p.LaunchTemplateID == "" {
			return nil, fmt.Errorf("aws provider: pool %q needs an Auto Scaling group or a launch template", name)
		}
		if p.LaunchTemplateID != "" && len(p.Subnets) == 0 {
			return nil, fmt.Errorf("aws provider: pool %q: fleet launches need subnets by zone", name)
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = cfg.MaxAttempts })
		}),
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(cfg.Endpoint))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws provider: config: %w", err)
	}
	p := &Provider{cfg: cfg, ec2: ec2.NewFromConfig(ac), as: autoscaling.NewFromConfig(ac), log: cfg.Logger}
	if len(cfg.IdentityCertificate) > 0 {
		if p.identity, err = NewIdentityVerifier(cfg.IdentityCertificate, cfg.Region, cfg.AccountIDs); err != nil {
			return nil, fmt.Errorf("aws provider: %w", err)
		}
	}
	return p, nil
}

// Offerings returns every configured offering of every pool.
func (p *Provider) Offerings(ctx context.Context) ([]policy.Offering, error) {
	var out []policy.Offering
	for _, name := range p.poolNames() {
		for _, o := range p.cfg.Pools[name].Offerings {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func (p *Provider) poolNames() []string {
	names := make([]string, 0, len(p.cfg.Pools))
	for n := range p.cfg.Pools {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Launch asks for req.Count nodes. With a launch template it returns the
// instances that started plus a *provider.CapacityError when EC2 had no
// capacity for the offering; with an Auto Scaling group it raises the
// desired capacity and returns no instances (they appear in List).
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	pool, ok := p.cfg.Pools[req.Pool]
	if !ok {
		return nil, fmt.Errorf("aws provider: unknown pool %q", req.Pool)
	}
	if req.Count <= 0 {
		return nil, nil
	}
	if req.Kind == policy.LaunchWarm && pool.WarmGroup != "" {
		return nil, p.grow(ctx, pool.WarmGroup, req.Count)
	}
	if pool.LaunchTemplateID != "" {
		return p.launchFleet(ctx, req, pool)
	}
	return nil, p.grow(ctx, pool.AutoScalingGroup, req.Count)
}

// grow raises the group's desired capacity by n.
func (p *Provider) grow(ctx context.Context, group string, n int) error {
	out, err := p.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil {
		return classify("describe group "+group, err)
	}
	if len(out.AutoScalingGroups) != 1 {
		return fmt.Errorf("aws provider: Auto Scaling group %q not found", group)
	}
	g := out.AutoScalingGroups[0]
	desired := int(aws.ToInt32(g.DesiredCapacity)) + n
	if maxSize := int(aws.ToInt32(g.MaxSize)); desired > maxSize {
		return &provider.CapacityError{Code: "GroupAtMaxSize", Err: fmt.Errorf("group %s: desired %d above max size %d", group, desired, maxSize)}
	}
	_, err = p.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(group),
		DesiredCapacity:      aws.Int32(int32(desired)),
		HonorCooldown:        aws.Bool(false),
	})
	if err != nil {
		return classify("set desired capacity of "+group, err)
	}
	p.log.Info("grew Auto Scaling group", "group", group, "desired", desired)
	return nil
}

// capacityCodes are CreateFleet error codes meaning "no capacity here now".
var capacityCodes = []string{
	"InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded", "UnfulfillableCapacity",
	"InsufficientCapacity", "InsufficientHostCapacity", "SpotMaxPriceTooLow", "InsufficientFreeAddressesInSubnet",
}

func (p *Provider) launchFleet(ctx context.Context, req provider.LaunchRequest, pool Pool) ([]provider.Instance, error) {
	o := req.Offering
	subnet, ok := pool.Subnets[o.Zone]
	if !ok {
		return nil, fmt.Errorf("aws provider: pool %q has no subnet in zone %q", req.Pool, o.Zone)
	}
	version := pool.LaunchTemplateVersion
	if version == "" {
		version = "$Latest"
	}
	market := ec2types.DefaultTargetCapacityTypeOnDemand
	if o.Spot {
		market = ec2types.DefaultTargetCapacityTypeSpot
	}
	var tags []ec2types.Tag
	for _, kv := range [][2]string{
		{provider.LabelManaged, "true"}, {provider.LabelFleet, p.cfg.Fleet},
		{provider.LabelPool, req.Pool}, {provider.LabelOffering, provider.OfferingKey(o)},
	} {
		tags = append(tags, ec2types.Tag{Key: aws.String(kv[0]), Value: aws.String(kv[1])})
	}
	in := &ec2.CreateFleetInput{
		Type: ec2types.FleetTypeInstant,
		LaunchTemplateConfigs: []ec2types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String(pool.LaunchTemplateID), Version: aws.String(version)},
			Overrides: []ec2types.FleetLaunchTemplateOverridesRequest{{
				InstanceType: ec2types.InstanceType(o.InstanceType), SubnetId: aws.String(subnet), AvailabilityZone: aws.String(o.Zone),
			}},
		}},
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity: aws.Int32(int32(req.Count)), DefaultTargetCapacityType: market,
		},
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		},
	}
	if o.Spot {
		in.SpotOptions = &ec2types.SpotOptionsRequest{AllocationStrategy: ec2types.SpotAllocationStrategyPriceCapacityOptimized}
	}
	out, err := p.ec2.CreateFleet(ctx, in)
	if err != nil {
		return nil, classify("create fleet", err)
	}
	var started []provider.Instance
	for _, fi := range out.Instances {
		for _, id := range fi.InstanceIds {
			started = append(started, provider.Instance{ProviderID: id, Name: id, Pool: req.Pool, Offering: o, State: "pending"})
		}
	}
	var errs []error
	for _, fe := range out.Errors {
		code, msg := aws.ToString(fe.ErrorCode), aws.ToString(fe.ErrorMessage)
		if slices.Contains(capacityCodes, code) {
			errs = append(errs, &provider.CapacityError{Offering: o, Code: code, Err: errors.New(msg)})
		} else {
			errs = append(errs, fmt.Errorf("aws provider: create fleet: %s: %s", code, msg))
		}
	}
	if len(started) < req.Count && len(errs) == 0 {
		errs = append(errs, &provider.CapacityError{Offering: o, Code: "UnfulfillableCapacity", Err: fmt.Errorf("%d of %d started", len(started), req.Count)})
	}
	return started, errors.Join(errs...)
}

// Terminate removes one node. A node of an Auto Scaling group is
// terminated through the group with ShouldDecrementDesiredCapacity, so the
// group does not replace it; others through EC2. Gone already is success.
func (p *Provider) Terminate(ctx context.Context, providerID string) error {
	asi, err := p.as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{providerID}})
	if err != nil {
		return classify("describe Auto Scaling instance "+providerID, err)
	}
	if len(asi.AutoScalingInstances) > 0 {
		_, err := p.as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(providerID), ShouldDecrementDesiredCapacity: aws.Bool(true),
		})
		if err != nil && !isGone(err) {
			return classify("terminate "+providerID+" in its group", err)
		}
		return nil
	}
	_, err = p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{providerID}})
	if err != nil && !isGone(err) {
		return classify("terminate "+providerID, err)
	}
	return nil
}

// List returns the fleet's live instances (by tag) and makes sure every
// in-service instance of the pools' groups is protected from scale-in.
func (p *Provider) List(ctx context.Context) ([]provider.Instance, error) {
	if err := p.protect(ctx); err != nil {
		return nil, err
	}
	waiting, err := p.warmIDs(ctx)
	if err != nil {
		return nil, err
	}
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + provider.LabelManaged), Values: []string{"true"}},
		{Name: aws.String("tag:" + provider.LabelFleet), Values: []string{p.cfg.Fleet}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}}
	var out []provider.Instance
	pager := ec2.NewDescribeInstancesPaginator(p.ec2, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("describe instances", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if !waiting[aws.ToString(i.InstanceId)] {
					out = append(out, p.instance(i))
				}
			}
		}
	}
	return out, nil
}

func (p *Provider) instance(i ec2types.Instance) provider.Instance {
	tags := map[string]string{}
	for _, t := range i.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	o := policy.Offering{InstanceType: string(i.InstanceType), Spot: i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot}
	if i.Placement != nil {
		o.Zone = aws.ToString(i.Placement.AvailabilityZone)
	}
	pool := tags[provider.LabelPool]
	for _, known := range p.cfg.Pools[pool].Offerings {
		if known.InstanceType == o.InstanceType && known.Zone == o.Zone && known.Spot == o.Spot {
			o.PricePerHour = known.PricePerHour
		}
	}
	inst := provider.Instance{ProviderID: aws.ToString(i.InstanceId), Name: aws.ToString(i.InstanceId), Pool: pool, Offering: o, LaunchedAt: aws.ToTime(i.LaunchTime)}
	if i.State != nil {
		inst.State = string(i.State.Name)
	}
	return inst
}

// protect sets scale-in protection on every unprotected in-service
// instance of the pools' groups: the group never chooses which node to
// retire; the control plane does, after draining it.
func (p *Provider) protect(ctx context.Context) error {
	var groups []string
	for _, name := range p.poolNames() {
		for _, g := range []string{p.cfg.Pools[name].AutoScalingGroup, p.cfg.Pools[name].WarmGroup} {
			if g != "" && !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) == 0 {
		return nil
	}
	out, err := p.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: groups})
	if err != nil {
		return classify("describe groups", err)
	}
	for _, g := range out.AutoScalingGroups {
		var ids []string
		for _, i := range g.Instances {
			if !aws.ToBool(i.ProtectedFromScaleIn) && i.LifecycleState == "InService" {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
		for chunk := range slices.Chunk(ids, 50) {
			_, err := p.as.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
				AutoScalingGroupName: g.AutoScalingGroupName, InstanceIds: chunk, ProtectedFromScaleIn: aws.Bool(true),
			})
			if err != nil {
				return classify("protect instances of "+aws.ToString(g.AutoScalingGroupName), err)
			}
		}
	}
	return nil
}

// throttleCodes are the services' rate-limit error codes.
var throttleCodes = []string{"RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled", "RequestThrottledException"}

// classify turns an SDK error into the provider's typed errors.
func classify(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case slices.Contains(throttleCodes, code):
			return &provider.ThrottledError{Err: fmt.Errorf("aws provider: %s: %w", op, err)}
		case slices.Contains(capacityCodes, code):
			return &provider.CapacityError{Code: code, Err: fmt.Errorf("aws provider: %s: %w", op, err)}
		}
	}
	return fmt.Errorf("aws provider: %s: %w", op, err)
}

// isGone reports an error meaning the instance no longer exists.
func isGone(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	return code == "InvalidInstanceID.NotFound" ||
		code == "ValidationError" && strings.Contains(msg, "Instance Id not found")
}
