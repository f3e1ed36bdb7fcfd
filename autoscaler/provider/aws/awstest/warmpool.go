package awstest

import (
	"encoding/xml"
	"net/url"
	"strconv"
)

// warmPool is a group's warm pool as PutWarmPool configured it.
type warmPool struct {
	minSize     int
	maxPrepared int // -1: not set (the group's max size counts)
	poolState   string
	reuse       bool
}

// instanceState is the EC2 state of an instance waiting in the pool.
func (w *warmPool) instanceState() string {
	if w.poolState == "Running" {
		return "running"
	}
	return "stopped"
}

type reusePolicyXML struct {
	ReuseOnScaleIn bool `xml:"ReuseOnScaleIn"`
}

type warmPoolXML struct {
	MaxGroupPreparedCapacity *int           `xml:"MaxGroupPreparedCapacity,omitempty"`
	MinSize                  int            `xml:"MinSize"`
	PoolState                string         `xml:"PoolState"`
	InstanceReusePolicy      reusePolicyXML `xml:"InstanceReusePolicy"`
}

func (w *warmPool) xml() *warmPoolXML {
	out := &warmPoolXML{MinSize: w.minSize, PoolState: w.poolState, InstanceReusePolicy: reusePolicyXML{w.reuse}}
	if w.maxPrepared >= 0 {
		m := w.maxPrepared
		out.MaxGroupPreparedCapacity = &m
	}
	return out
}

// warmInstances lists the instances waiting in group name's warm pool,
// the oldest first.
func (s *Server) warmInstances(name string) []*Instance {
	var out []*Instance
	for _, id := range s.order {
		if in := s.instances[id]; in.Group == name && in.Warm {
			out = append(out, in)
		}
	}
	return out
}

// fillWarm keeps g's warm pool at its size: max(MinSize, prepared −
// desired), prepared being MaxGroupPreparedCapacity or the group's max
// size. New warm instances skip the warm-up (they are ready at once);
// extra ones are terminated. The caller holds mu.
func (s *Server) fillWarm(g *Group) {
	if g.warm == nil {
		return
	}
	prepared := g.warm.maxPrepared
	if prepared < 0 {
		prepared = g.Max
	}
	size := max(g.warm.minSize, prepared-g.Desired)
	warm := s.warmInstances(g.Name)
	for i := len(warm) - 1; i >= size; i-- {
		warm[i].State, warm[i].Warm = "terminated", false
	}
	for n, i := len(warm), 0; n < size && i < len(g.Offerings)*size; i++ {
		o := g.Offerings[(n+i)%len(g.Offerings)]
		if _, dry := s.noCap[o]; dry {
			continue
		}
		in := s.launch(o, g.Name, g.Tags)
		in.Warm, in.State = true, g.warm.instanceState()
		n++
	}
}

func (s *Server) putWarmPool(form url.Values) (any, *apiError) {
	g, e := s.group(form)
	if e != nil {
		return nil, e
	}
	spot := false
	for _, o := range g.Offerings {
		spot = spot || o.Spot
	}
	if g.MixedInstancesPolicy || spot {
		return nil, invalid("ValidationError", "You can't add a warm pool to an Auto Scaling group that has a mixed instances policy or a launch template or launch configuration that requests Spot Instances.")
	}
	w := &warmPool{maxPrepared: -1, poolState: "Stopped"}
	if v := form.Get("MinSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, invalid("ValidationError", "1 validation error detected: Value '%s' at 'minSize' failed to satisfy constraint: Member must have value greater than or equal to 0", v)
		}
		w.minSize = n
	}
	if v := form.Get("MaxGroupPreparedCapacity"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return nil, invalid("ValidationError", "1 validation error detected: Value '%s' at 'maxGroupPreparedCapacity' failed to satisfy constraint: Member must have value greater than or equal to -1", v)
		}
		w.maxPrepared = n
	}
	if w.maxPrepared >= 0 && w.minSize > w.maxPrepared {
		return nil, invalid("ValidationError", "The minimum size of the warm pool (%d) must not be greater than MaxGroupPreparedCapacity (%d).", w.minSize, w.maxPrepared)
	}
	switch v := form.Get("PoolState"); v {
	case "":
	case "Stopped", "Running", "Hibernated":
		w.poolState = v
	default:
		return nil, invalid("ValidationError", "1 validation error detected: Value '%s' at 'poolState' failed to satisfy enum value set: [Hibernated, Running, Stopped]", v)
	}
	if v := form.Get("InstanceReusePolicy.ReuseOnScaleIn"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, invalid("ValidationError", "ReuseOnScaleIn must be true or false")
		}
		w.reuse = b
	}
	g.warm = w
	s.fillWarm(g)
	return resultResponse("PutWarmPool"), nil
}

type describeWarmPoolResponse struct {
	XMLName   xml.Name         `xml:"DescribeWarmPoolResponse"`
	NS        string           `xml:"xmlns,attr"`
	Config    *warmPoolXML     `xml:"DescribeWarmPoolResult>WarmPoolConfiguration,omitempty"`
	Instances []asInstance     `xml:"DescribeWarmPoolResult>Instances>member"`
	Metadata  responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) describeWarmPool(form url.Values) (any, *apiError) {
	g, e := s.group(form)
	if e != nil {
		return nil, e
	}
	resp := describeWarmPoolResponse{NS: asNS, Metadata: responseMetadata{requestID}}
	if g.warm == nil {
		return resp, nil
	}
	resp.Config = g.warm.xml()
	for _, in := range s.warmInstances(g.Name) {
		resp.Instances = append(resp.Instances, asInstance{InstanceID: in.ID, InstanceType: in.Offering.InstanceType,
			AvailabilityZone: in.Offering.Zone, LifecycleState: "Warmed:" + g.warm.poolState, HealthStatus: "Healthy"})
	}
	return resp, nil
}

func (s *Server) deleteWarmPool(form url.Values) (any, *apiError) {
	g, e := s.group(form)
	if e != nil {
		return nil, e
	}
	if v := form.Get("ForceDelete"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return nil, invalid("ValidationError", "ForceDelete must be true or false")
		}
	}
	if g.warm == nil {
		return nil, invalid("ValidationError", "No warm pool found for Auto Scaling group %s.", g.Name)
	}
	for _, in := range s.warmInstances(g.Name) {
		in.State, in.Warm = "terminated", false
	}
	g.warm = nil
	return resultResponse("DeleteWarmPool"), nil
}

// emptyResult is a response whose result element is empty, as Auto
// Scaling answers PutWarmPool and DeleteWarmPool.
type emptyResult struct {
	XMLName  xml.Name
	NS       string `xml:"xmlns,attr"`
	Result   struct{ XMLName xml.Name }
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func resultResponse(action string) emptyResult {
	r := emptyResult{XMLName: xml.Name{Local: action + "Response"}, NS: asNS, Metadata: responseMetadata{requestID}}
	r.Result.XMLName = xml.Name{Local: action + "Result"}
	return r
}
