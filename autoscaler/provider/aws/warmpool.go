package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/runfleet/runfleet/autoscaler/provider"
)

// Warm pools (Auto Scaling warm pools on the pool's WarmGroup).
//
// A warm instance boots once, runs its user data, and stops; the node
// agent must not join the fleet then (it reads the instance's target
// lifecycle state from the instance metadata and registers only once it is
// InService), and registers fresh, with a new node token, each time the
// instance is started again.

// waitingState reports whether an instance's lifecycle state is one of a
// warm instance ready to start (not warming up, not leaving).
func waitingState(s astypes.LifecycleState) bool {
	switch s {
	case astypes.LifecycleStateWarmedStopped, astypes.LifecycleStateWarmedRunning, astypes.LifecycleStateWarmedHibernated:
		return true
	}
	return false
}

// describeWarm returns a group's warm pool configuration (nil without
// one) and its instances.
func (p *Provider) describeWarm(ctx context.Context, group string) (*astypes.WarmPoolConfiguration, []astypes.Instance, error) {
	var cfg *astypes.WarmPoolConfiguration
	var insts []astypes.Instance
	in := &autoscaling.DescribeWarmPoolInput{AutoScalingGroupName: aws.String(group)}
	for {
		out, err := p.as.DescribeWarmPool(ctx, in)
		if err != nil {
			return nil, nil, classify("describe warm pool of "+group, err)
		}
		if out.WarmPoolConfiguration != nil {
			cfg = out.WarmPoolConfiguration
		}
		insts = append(insts, out.Instances...)
		if aws.ToString(out.NextToken) == "" {
			return cfg, insts, nil
		}
		in.NextToken = out.NextToken
	}
}

// Warm counts the instances waiting in pool's warm pool.
func (p *Provider) Warm(ctx context.Context, pool string) (int, error) {
	pl, ok := p.cfg.Pools[pool]
	if !ok || pl.WarmGroup == "" {
		return 0, nil
	}
	_, insts, err := p.describeWarm(ctx, pl.WarmGroup)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, i := range insts {
		if waitingState(i.LifecycleState) {
			n++
		}
	}
	return n, nil
}

// FillWarm sets the warm pool of req.Pool's WarmGroup to size instances
// (PutWarmPool with MinSize and MaxGroupPreparedCapacity both size, so
// the pool holds exactly size whatever the group's desired capacity);
// size 0 deletes the warm pool. Auto Scaling launches and trims the warm
// instances itself; FillWarm returns how many wait now. It calls
// PutWarmPool only when the configuration differs.
func (p *Provider) FillWarm(ctx context.Context, req provider.LaunchRequest, size int) (int, error) {
	pl, ok := p.cfg.Pools[req.Pool]
	if !ok || pl.WarmGroup == "" {
		return 0, fmt.Errorf("aws provider: pool %q has no warm group", req.Pool)
	}
	state := astypes.WarmPoolState(pl.WarmPoolState)
	if state == "" {
		state = astypes.WarmPoolStateStopped
	}
	cur, _, err := p.describeWarm(ctx, pl.WarmGroup)
	if err != nil {
		return 0, err
	}
	switch {
	case size <= 0 && cur == nil:
		return 0, nil
	case size <= 0:
		if _, err := p.as.DeleteWarmPool(ctx, &autoscaling.DeleteWarmPoolInput{AutoScalingGroupName: aws.String(pl.WarmGroup)}); err != nil {
			return 0, classify("delete warm pool of "+pl.WarmGroup, err)
		}
		p.log.Info("deleted warm pool", "group", pl.WarmGroup)
		return 0, nil
	case cur == nil || aws.ToInt32(cur.MinSize) != int32(size) || aws.ToInt32(cur.MaxGroupPreparedCapacity) != int32(size) ||
		!strings.EqualFold(string(cur.PoolState), string(state)) ||
		cur.InstanceReusePolicy == nil || aws.ToBool(cur.InstanceReusePolicy.ReuseOnScaleIn) != pl.WarmReuseOnScaleIn:
		_, err := p.as.PutWarmPool(ctx, &autoscaling.PutWarmPoolInput{
			AutoScalingGroupName:     aws.String(pl.WarmGroup),
			MinSize:                  aws.Int32(int32(size)),
			MaxGroupPreparedCapacity: aws.Int32(int32(size)),
			PoolState:                state,
			InstanceReusePolicy:      &astypes.InstanceReusePolicy{ReuseOnScaleIn: aws.Bool(pl.WarmReuseOnScaleIn)},
		})
		if err != nil {
			return 0, classify("put warm pool of "+pl.WarmGroup, err)
		}
		p.log.Info("warm pool set", "group", pl.WarmGroup, "size", size, "state", state)
	}
	return p.Warm(ctx, req.Pool)
}

// warmIDs are the instances waiting (or warming) in the pools' warm
// pools: not nodes yet, so List leaves them out.
func (p *Provider) warmIDs(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range p.poolNames() {
		g := p.cfg.Pools[name].WarmGroup
		if g == "" {
			continue
		}
		_, insts, err := p.describeWarm(ctx, g)
		if err != nil {
			return nil, err
		}
		for _, i := range insts {
			out[aws.ToString(i.InstanceId)] = true
		}
	}
	return out, nil
}
