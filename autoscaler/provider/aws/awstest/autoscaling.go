package awstest

import (
	"encoding/xml"
	"net/url"
	"regexp"
	"slices"
	"strconv"
)

var asActions = map[string]action{
	"DescribeAutoScalingGroups":           {regexp.MustCompile(`^(AutoScalingGroupNames\.member\.\d+|MaxRecords|NextToken|IncludeInstances)$`), (*Server).describeGroups},
	"DescribeAutoScalingInstances":        {regexp.MustCompile(`^(InstanceIds\.member\.\d+|MaxRecords|NextToken)$`), (*Server).describeASInstances},
	"SetDesiredCapacity":                  {regexp.MustCompile(`^(AutoScalingGroupName|DesiredCapacity|HonorCooldown)$`), (*Server).setDesired},
	"TerminateInstanceInAutoScalingGroup": {regexp.MustCompile(`^(InstanceId|ShouldDecrementDesiredCapacity)$`), (*Server).terminateInGroup},
	"SetInstanceProtection":               {regexp.MustCompile(`^(AutoScalingGroupName|InstanceIds\.member\.\d+|ProtectedFromScaleIn)$`), (*Server).setProtection},
	"PutWarmPool":                         {regexp.MustCompile(`^(AutoScalingGroupName|MaxGroupPreparedCapacity|MinSize|PoolState|InstanceReusePolicy\.ReuseOnScaleIn)$`), (*Server).putWarmPool},
	"DescribeWarmPool":                    {regexp.MustCompile(`^(AutoScalingGroupName|MaxRecords|NextToken)$`), (*Server).describeWarmPool},
	"DeleteWarmPool":                      {regexp.MustCompile(`^(AutoScalingGroupName|ForceDelete)$`), (*Server).deleteWarmPool},
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type asInstance struct {
	InstanceID           string `xml:"InstanceId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName,omitempty"`
	InstanceType         string `xml:"InstanceType"`
	AvailabilityZone     string `xml:"AvailabilityZone"`
	LifecycleState       string `xml:"LifecycleState"`
	HealthStatus         string `xml:"HealthStatus"`
	ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
}

type asGroup struct {
	Name                  string       `xml:"AutoScalingGroupName"`
	ARN                   string       `xml:"AutoScalingGroupARN"`
	MinSize               int          `xml:"MinSize"`
	MaxSize               int          `xml:"MaxSize"`
	DesiredCapacity       int          `xml:"DesiredCapacity"`
	DefaultCooldown       int          `xml:"DefaultCooldown"`
	AvailabilityZones     []string     `xml:"AvailabilityZones>member"`
	HealthCheckType       string       `xml:"HealthCheckType"`
	CreatedTime           string       `xml:"CreatedTime"`
	NewInstancesProtected bool         `xml:"NewInstancesProtectedFromScaleIn"`
	Instances             []asInstance `xml:"Instances>member"`
	WarmPool              *warmPoolXML `xml:"WarmPoolConfiguration,omitempty"`
	WarmPoolSize          *int         `xml:"WarmPoolSize,omitempty"`
}

type describeGroupsResponse struct {
	XMLName  xml.Name         `xml:"DescribeAutoScalingGroupsResponse"`
	NS       string           `xml:"xmlns,attr"`
	Groups   []asGroup        `xml:"DescribeAutoScalingGroupsResult>AutoScalingGroups>member"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func lifecycle(in *Instance) string {
	if in.State == "pending" {
		return "Pending"
	}
	return "InService"
}

func (s *Server) describeGroups(form url.Values) (any, *apiError) {
	names := list(form, "AutoScalingGroupNames.member", "")
	resp := describeGroupsResponse{NS: asNS, Metadata: responseMetadata{requestID}}
	keys := make([]string, 0, len(s.groups))
	for k := range s.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		g := s.groups[name]
		ag := asGroup{Name: g.Name, ARN: "arn:aws:autoscaling:" + s.Region + ":123456789012:autoScalingGroup:0:autoScalingGroupName/" + g.Name,
			MinSize: g.Min, MaxSize: g.Max, DesiredCapacity: g.Desired, DefaultCooldown: 300, HealthCheckType: "EC2",
			CreatedTime: "2026-11-01T00:00:00Z", NewInstancesProtected: g.NewInstancesProtected}
		if g.warm != nil {
			ag.WarmPool = g.warm.xml()
			n := len(s.warmInstances(g.Name))
			ag.WarmPoolSize = &n
		}
		zones := map[string]bool{}
		for _, o := range g.Offerings {
			if !zones[o.Zone] {
				zones[o.Zone] = true
				ag.AvailabilityZones = append(ag.AvailabilityZones, o.Zone)
			}
		}
		for _, in := range s.groupInstances(name) {
			ag.Instances = append(ag.Instances, asInstance{InstanceID: in.ID, InstanceType: in.Offering.InstanceType, AvailabilityZone: in.Offering.Zone,
				LifecycleState: lifecycle(in), HealthStatus: "Healthy", ProtectedFromScaleIn: in.Protected})
		}
		resp.Groups = append(resp.Groups, ag)
	}
	return resp, nil
}

type describeASInstancesResponse struct {
	XMLName   xml.Name         `xml:"DescribeAutoScalingInstancesResponse"`
	NS        string           `xml:"xmlns,attr"`
	Instances []asInstance     `xml:"DescribeAutoScalingInstancesResult>AutoScalingInstances>member"`
	Metadata  responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) describeASInstances(form url.Values) (any, *apiError) {
	ids := list(form, "InstanceIds.member", "")
	resp := describeASInstancesResponse{NS: asNS, Metadata: responseMetadata{requestID}}
	for _, id := range s.order {
		in := s.instances[id]
		if in.Group == "" || in.State == "terminated" || (len(ids) > 0 && !slices.Contains(ids, id)) {
			continue
		}
		resp.Instances = append(resp.Instances, asInstance{InstanceID: in.ID, AutoScalingGroupName: in.Group, InstanceType: in.Offering.InstanceType,
			AvailabilityZone: in.Offering.Zone, LifecycleState: lifecycle(in), HealthStatus: "Healthy", ProtectedFromScaleIn: in.Protected})
	}
	return resp, nil
}

type emptyResponse struct {
	XMLName  xml.Name
	NS       string           `xml:"xmlns,attr"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) group(form url.Values) (*Group, *apiError) {
	name := form.Get("AutoScalingGroupName")
	if name == "" {
		return nil, invalid("ValidationError", "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	g, ok := s.groups[name]
	if !ok {
		return nil, invalid("ValidationError", "AutoScalingGroup name not found - no such group: %s", name)
	}
	return g, nil
}

func (s *Server) setDesired(form url.Values) (any, *apiError) {
	g, e := s.group(form)
	if e != nil {
		return nil, e
	}
	n, err := strconv.Atoi(form.Get("DesiredCapacity"))
	switch {
	case err != nil:
		return nil, invalid("ValidationError", "1 validation error detected: Value at 'desiredCapacity' failed to satisfy constraint: Member must not be null")
	case n > g.Max:
		return nil, invalid("ValidationError", "New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", n, g.Max)
	case n < g.Min:
		return nil, invalid("ValidationError", "New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", n, g.Min)
	}
	if n < len(s.groupInstances(g.Name)) {
		// Scale-in picks among unprotected instances only.
		for _, in := range s.groupInstances(g.Name) {
			if len(s.groupInstances(g.Name)) <= n {
				break
			}
			if !in.Protected {
				in.State = "terminated"
			}
		}
	}
	g.Desired = n
	s.fillGroup(g)
	return emptyResponse{XMLName: xml.Name{Local: "SetDesiredCapacityResponse"}, NS: asNS, Metadata: responseMetadata{requestID}}, nil
}

type activity struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	StatusCode           string `xml:"StatusCode"`
	Progress             int    `xml:"Progress"`
}

type terminateInGroupResponse struct {
	XMLName  xml.Name         `xml:"TerminateInstanceInAutoScalingGroupResponse"`
	NS       string           `xml:"xmlns,attr"`
	Activity activity         `xml:"TerminateInstanceInAutoScalingGroupResult>Activity"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) terminateInGroup(form url.Values) (any, *apiError) {
	id := form.Get("InstanceId")
	dec, err := strconv.ParseBool(form.Get("ShouldDecrementDesiredCapacity"))
	if err != nil {
		return nil, invalid("ValidationError", "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	in, ok := s.instances[id]
	if !ok || in.Group == "" || in.State == "terminated" {
		return nil, invalid("ValidationError", "Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	g := s.groups[in.Group]
	if dec {
		if g.Desired-1 < g.Min {
			return nil, invalid("ValidationError", "Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.Min)
		}
		g.Desired--
	}
	in.State = "terminated"
	if g.warm != nil && g.warm.reuse && dec {
		// Instance reuse: back to the warm pool instead of terminated.
		in.Warm, in.State, in.Protected = true, g.warm.instanceState(), false
	}
	s.fillGroup(g)
	return terminateInGroupResponse{NS: asNS, Metadata: responseMetadata{requestID}, Activity: activity{
		ActivityID: "d1f7b6a8-0000-4000-8000-" + id[2:14], AutoScalingGroupName: g.Name,
		Description: "Terminating EC2 instance: " + id, Cause: "instance " + id + " was taken out of service in response to a user request.",
		StartTime: s.now().Format("2006-01-02T15:04:05Z"), StatusCode: "InProgress"}}, nil
}

type setProtectionResponse struct {
	XMLName  xml.Name         `xml:"SetInstanceProtectionResponse"`
	NS       string           `xml:"xmlns,attr"`
	Result   struct{}         `xml:"SetInstanceProtectionResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) setProtection(form url.Values) (any, *apiError) {
	g, e := s.group(form)
	if e != nil {
		return nil, e
	}
	prot, err := strconv.ParseBool(form.Get("ProtectedFromScaleIn"))
	if err != nil {
		return nil, invalid("ValidationError", "ProtectedFromScaleIn must be true or false")
	}
	ids := list(form, "InstanceIds.member", "")
	if len(ids) == 0 || len(ids) > 50 {
		return nil, invalid("ValidationError", "between 1 and 50 InstanceIds are required")
	}
	for _, id := range ids {
		in, ok := s.instances[id]
		if !ok || in.Group != g.Name || in.State == "terminated" {
			return nil, invalid("ValidationError", "The instance %s is not part of Auto Scaling group %s.", id, g.Name)
		}
	}
	for _, id := range ids {
		s.instances[id].Protected = prot
	}
	return setProtectionResponse{NS: asNS, Metadata: responseMetadata{requestID}}, nil
}
