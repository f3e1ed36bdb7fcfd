package awstest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type action struct {
	params *regexp.Regexp // every parameter but Action and Version must match
	fn     func(*Server, url.Values) (any, *apiError)
}

func invalid(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...), sender: true}
}

var ec2Actions = map[string]action{
	"CreateFleet": {regexp.MustCompile(`^(ClientToken|DryRun|Type|` +
		`TargetCapacitySpecification\.(TotalTargetCapacity|DefaultTargetCapacityType|OnDemandTargetCapacity|SpotTargetCapacity)|` +
		`SpotOptions\.(AllocationStrategy|SingleInstanceType|SingleAvailabilityZone|MinTargetCapacity)|OnDemandOptions\.AllocationStrategy|` +
		`LaunchTemplateConfigs\.\d+\.LaunchTemplateSpecification\.(LaunchTemplateId|LaunchTemplateName|Version)|` +
		`LaunchTemplateConfigs\.\d+\.Overrides\.\d+\.(InstanceType|SubnetId|AvailabilityZone|MaxPrice|Priority|WeightedCapacity)|` +
		`TagSpecification\.\d+\.(ResourceType|Tag\.\d+\.(Key|Value)))$`), (*Server).createFleet},
	"DescribeInstances":  {regexp.MustCompile(`^(DryRun|MaxResults|NextToken|InstanceId\.\d+|Filter\.\d+\.(Name|Value\.\d+))$`), (*Server).describeInstances},
	"TerminateInstances": {regexp.MustCompile(`^(DryRun|InstanceId\.\d+)$`), (*Server).terminateInstances},
}

// list collects prefix.1, prefix.2, … (or prefix.1.suffix, …) in order.
func list(form url.Values, prefix, suffix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i) + suffix
		if !form.Has(k) {
			return out
		}
		out = append(out, form.Get(k))
	}
}

type ltSpec struct {
	LaunchTemplateID string `xml:"launchTemplateId"`
	Version          string `xml:"version"`
}

type ltOverrides struct {
	InstanceType     string `xml:"instanceType"`
	SubnetID         string `xml:"subnetId,omitempty"`
	AvailabilityZone string `xml:"availabilityZone,omitempty"`
}

type ltAndOverrides struct {
	Spec      ltSpec      `xml:"launchTemplateSpecification"`
	Overrides ltOverrides `xml:"overrides"`
}

type fleetError struct {
	LTO          ltAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle    string         `xml:"lifecycle"`
	ErrorCode    string         `xml:"errorCode"`
	ErrorMessage string         `xml:"errorMessage"`
}

type fleetInstance struct {
	LTO          ltAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle    string         `xml:"lifecycle"`
	InstanceIDs  []string       `xml:"instanceIds>item"`
	InstanceType string         `xml:"instanceType"`
}

type createFleetResponse struct {
	XMLName   xml.Name        `xml:"CreateFleetResponse"`
	NS        string          `xml:"xmlns,attr"`
	RequestID string          `xml:"requestId"`
	FleetID   string          `xml:"fleetId"`
	Errors    []fleetError    `xml:"errorSet>item"`
	Instances []fleetInstance `xml:"fleetInstanceSet>item"`
}

// createFleet serves CreateFleet of type instant: each override is one
// offering; capacity goes to the overrides in order (as with the
// "prioritized" strategy), skipping those without capacity, which come
// back in errorSet.
func (s *Server) createFleet(form url.Values) (any, *apiError) {
	if t := form.Get("Type"); t != "instant" {
		return nil, invalid("InvalidParameterValue", "this fake serves only Type=instant fleets, got %q", t)
	}
	total, err := strconv.Atoi(form.Get("TargetCapacitySpecification.TotalTargetCapacity"))
	if err != nil || total <= 0 {
		return nil, invalid("InvalidParameterValue", "TargetCapacitySpecification.TotalTargetCapacity must be a positive integer")
	}
	market := form.Get("TargetCapacitySpecification.DefaultTargetCapacityType")
	if market != "spot" && market != "on-demand" {
		return nil, invalid("InvalidParameterValue", "DefaultTargetCapacityType must be spot or on-demand, got %q", market)
	}
	ltID := form.Get("LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId")
	version := form.Get("LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version")
	if ltID == "" || form.Has("LaunchTemplateConfigs.2.LaunchTemplateSpecification.LaunchTemplateId") {
		return nil, invalid("InvalidParameterValue", "exactly one LaunchTemplateConfigs entry with a LaunchTemplateId is required")
	}
	types := list(form, "LaunchTemplateConfigs.1.Overrides", ".InstanceType")
	if len(types) == 0 {
		return nil, invalid("InvalidParameterValue", "at least one override is required")
	}
	tags := map[string]string{}
	for i := 1; form.Has(fmt.Sprintf("TagSpecification.%d.ResourceType", i)); i++ {
		rt := form.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", i))
		if rt != "instance" && rt != "fleet" && rt != "volume" {
			return nil, invalid("InvalidParameterValue", "unsupported ResourceType %q", rt)
		}
		keys := list(form, fmt.Sprintf("TagSpecification.%d.Tag", i), ".Key")
		vals := list(form, fmt.Sprintf("TagSpecification.%d.Tag", i), ".Value")
		if len(keys) != len(vals) {
			return nil, invalid("InvalidParameterValue", "every tag needs a key and a value")
		}
		if rt == "instance" {
			for k, key := range keys {
				tags[key] = vals[k]
			}
		}
	}
	resp := createFleetResponse{NS: ec2NS, RequestID: requestID, FleetID: fmt.Sprintf("fleet-%08x", len(s.order)+1)}
	left := total
	for i, typ := range types {
		p := fmt.Sprintf("LaunchTemplateConfigs.1.Overrides.%d.", i+1)
		zone := form.Get(p + "AvailabilityZone")
		subnet := form.Get(p + "SubnetId")
		if zone == "" && strings.HasPrefix(subnet, "subnet-") {
			zone = strings.TrimPrefix(subnet, "subnet-")
		}
		if zone == "" {
			return nil, invalid("InvalidParameterValue", "override %d needs an AvailabilityZone or SubnetId", i+1)
		}
		o := Offering{InstanceType: typ, Zone: zone, Spot: market == "spot"}
		lto := ltAndOverrides{Spec: ltSpec{LaunchTemplateID: ltID, Version: version}, Overrides: ltOverrides{InstanceType: typ, SubnetID: subnet, AvailabilityZone: form.Get(p + "AvailabilityZone")}}
		if left == 0 {
			break
		}
		if code, dry := s.noCap[o]; dry {
			resp.Errors = append(resp.Errors, fleetError{LTO: lto, Lifecycle: market, ErrorCode: code, ErrorMessage: capacityMessage(code, o)})
			continue
		}
		fi := fleetInstance{LTO: lto, Lifecycle: market, InstanceType: typ}
		for ; left > 0; left-- {
			fi.InstanceIDs = append(fi.InstanceIDs, s.launch(o, "", tags).ID)
		}
		resp.Instances = append(resp.Instances, fi)
	}
	return resp, nil
}

func capacityMessage(code string, o Offering) string {
	switch code {
	case "InsufficientInstanceCapacity":
		return fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s).", o.InstanceType, o.Zone)
	case "MaxSpotInstanceCountExceeded":
		return "Max spot instance count exceeded"
	default:
		return "There is no Spot capacity available that matches your request."
	}
}

type tagItem struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type instanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

type instanceItem struct {
	InstanceID   string `xml:"instanceId"`
	InstanceType string `xml:"instanceType"`
	Placement    struct {
		AvailabilityZone string `xml:"availabilityZone"`
	} `xml:"placement"`
	State             instanceState `xml:"instanceState"`
	LaunchTime        string        `xml:"launchTime"`
	InstanceLifecycle string        `xml:"instanceLifecycle,omitempty"`
	Tags              []tagItem     `xml:"tagSet>item"`
}

type reservation struct {
	ReservationID string         `xml:"reservationId"`
	OwnerID       string         `xml:"ownerId"`
	Instances     []instanceItem `xml:"instancesSet>item"`
}

type describeInstancesResponse struct {
	XMLName      xml.Name      `xml:"DescribeInstancesResponse"`
	NS           string        `xml:"xmlns,attr"`
	RequestID    string        `xml:"requestId"`
	Reservations []reservation `xml:"reservationSet>item"`
}

// describeInstances supports InstanceId.N and the filters
// instance-state-name and tag:KEY.
func (s *Server) describeInstances(form url.Values) (any, *apiError) {
	ids := list(form, "InstanceId", "")
	type filter struct {
		name   string
		values []string
	}
	var filters []filter
	for i := 1; form.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		f := filter{name: form.Get(fmt.Sprintf("Filter.%d.Name", i)), values: list(form, fmt.Sprintf("Filter.%d.Value", i), "")}
		if f.name != "instance-state-name" && !strings.HasPrefix(f.name, "tag:") {
			return nil, invalid("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		filters = append(filters, f)
	}
	for _, id := range ids {
		if _, ok := s.instances[id]; !ok {
			return nil, invalid("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	resp := describeInstancesResponse{NS: ec2NS, RequestID: requestID}
	res := reservation{ReservationID: "r-0123456789abcdef0", OwnerID: "123456789012"}
	for _, id := range s.order {
		in := s.instances[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		ok := true
		for _, f := range filters {
			var v string
			if f.name == "instance-state-name" {
				v = in.State
			} else {
				v = in.Tags[strings.TrimPrefix(f.name, "tag:")]
			}
			ok = ok && slices.Contains(f.values, v)
		}
		if !ok {
			continue
		}
		item := instanceItem{InstanceID: in.ID, InstanceType: in.Offering.InstanceType, State: instanceState{stateCodes[in.State], in.State}, LaunchTime: in.LaunchAt.UTC().Format(time.RFC3339)}
		item.Placement.AvailabilityZone = in.Offering.Zone
		if in.Offering.Spot {
			item.InstanceLifecycle = "spot"
		}
		keys := make([]string, 0, len(in.Tags))
		for k := range in.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			item.Tags = append(item.Tags, tagItem{k, in.Tags[k]})
		}
		res.Instances = append(res.Instances, item)
	}
	if len(res.Instances) > 0 {
		resp.Reservations = []reservation{res}
	}
	return resp, nil
}

type stateChange struct {
	InstanceID    string        `xml:"instanceId"`
	CurrentState  instanceState `xml:"currentState"`
	PreviousState instanceState `xml:"previousState"`
}

type terminateInstancesResponse struct {
	XMLName   xml.Name      `xml:"TerminateInstancesResponse"`
	NS        string        `xml:"xmlns,attr"`
	RequestID string        `xml:"requestId"`
	Instances []stateChange `xml:"instancesSet>item"`
}

func (s *Server) terminateInstances(form url.Values) (any, *apiError) {
	ids := list(form, "InstanceId", "")
	if len(ids) == 0 {
		return nil, invalid("MissingParameter", "The request must contain the parameter InstanceId")
	}
	for _, id := range ids {
		if _, ok := s.instances[id]; !ok {
			return nil, invalid("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	resp := terminateInstancesResponse{NS: ec2NS, RequestID: requestID}
	for _, id := range ids {
		in := s.instances[id]
		prev := in.State
		if in.State != "terminated" {
			in.State = "shutting-down"
		}
		resp.Instances = append(resp.Instances, stateChange{id, instanceState{stateCodes[in.State], in.State}, instanceState{stateCodes[prev], prev}})
		if in.Group != "" {
			// EC2 terminating a group's instance: the group replaces it.
			if g, ok := s.groups[in.Group]; ok {
				s.fillGroup(g)
			}
		}
	}
	return resp, nil
}
