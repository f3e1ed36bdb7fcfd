// Package awstest is a strict local fake of the parts of the Amazon EC2
// (2016-11-15) and Auto Scaling (2011-01-01) query APIs that runfleet's aws
// provider uses. Like the real endpoints it takes form-encoded POSTs
// (Action=…&Version=…), requires a valid SigV4 signature whose credential
// scope names the right region and service, rejects unknown actions and
// parameters, and answers in each service's documented XML shapes,
// including their error envelopes. Tests inject capacity errors per
// offering and throttling.
package awstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// API versions and XML namespaces.
const (
	EC2Version         = "2016-11-15"
	AutoScalingVersion = "2011-01-01"
	ec2NS              = "http://ec2.amazonaws.com/doc/2016-11-15/"
	asNS               = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

// Offering is one launchable (instance type, zone, market).
type Offering struct {
	InstanceType string
	Zone         string
	Spot         bool
}

// Group is an Auto Scaling group of the fake.
type Group struct {
	Name                  string
	Min, Max, Desired     int
	NewInstancesProtected bool
	// Offerings the mixed instances policy launches from, round robin.
	Offerings []Offering
	// Tags propagated to the group's instances at launch.
	Tags map[string]string
	// MixedInstancesPolicy: the group launches from a mixed instances
	// policy (PutWarmPool refuses such a group, as it refuses Spot).
	MixedInstancesPolicy bool
	// warm is the group's warm pool (PutWarmPool), nil without one.
	warm *warmPool
}

// Instance is an EC2 instance of the fake.
type Instance struct {
	ID        string
	Offering  Offering
	State     string // pending, running, shutting-down, terminated
	Group     string // Auto Scaling group, if any
	Protected bool
	Tags      map[string]string
	LaunchAt  time.Time
	// Warm: the instance waits in its group's warm pool (State stopped,
	// or running for a Running pool).
	Warm bool
}

// Server is the fake. Create it with New; its URL serves both services.
type Server struct {
	URL       string
	Region    string
	AccessKey string
	SecretKey string

	srv *httptest.Server
	now func() time.Time

	mu        sync.Mutex
	groups    map[string]*Group
	instances map[string]*Instance
	order     []string
	nextID    int
	noCap     map[Offering]string // offering → error code
	throttle  int
	calls     []string
	rejected  []string
}

// New starts a fake on loopback for region with one static key pair.
func New(region, accessKey, secretKey string) *Server {
	s := &Server{
		Region: region, AccessKey: accessKey, SecretKey: secretKey,
		groups: map[string]*Group{}, instances: map[string]*Instance{}, noCap: map[Offering]string{},
		now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddGroup creates an Auto Scaling group and launches its desired capacity.
func (s *Server) AddGroup(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gg := g
	s.groups[g.Name] = &gg
	s.fillGroup(&gg)
}

// NoCapacity makes launches on o fail with code (e.g.
// InsufficientInstanceCapacity); an empty code clears it.
func (s *Server) NoCapacity(o Offering, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.noCap, o)
		return
	}
	s.noCap[o] = code
}

// Throttle answers the next n requests with the service's throttling error.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Calls lists the actions served so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Rejected lists requests the fake refused as malformed (signature,
// unknown action or parameter), for tests that expect none.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// Instances returns a copy of every instance, in launch order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.order))
	for _, id := range s.order {
		in := *s.instances[id]
		out = append(out, in)
	}
	return out
}

// Group returns a copy of a group.
func (s *Server) Group(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return Group{}, false
	}
	return *g, true
}

// Reclaim marks an instance terminated, as EC2 does after a spot
// interruption.
func (s *Server) Reclaim(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.instances[id]; ok {
		in.State = "terminated"
	}
}

// apiError is an error in the service's error shape.
type apiError struct {
	status  int
	code    string
	message string
	sender  bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	// The query protocol: POST of a form to "/".
	form, ferr := url.ParseQuery(string(body))
	version := form.Get("Version")
	service := "ec2"
	if version == AutoScalingVersion {
		service = "autoscaling"
	}
	fail := func(e apiError) {
		s.mu.Lock()
		if e.code != "Throttling" && e.code != "RequestLimitExceeded" {
			s.rejected = append(s.rejected, form.Get("Action")+": "+e.code+": "+e.message)
		}
		s.mu.Unlock()
		writeError(w, service, e)
	}
	switch {
	case r.Method != http.MethodPost:
		fail(apiError{status: http.StatusMethodNotAllowed, code: "InvalidHttpRequest", message: "only POST is supported", sender: true})
		return
	case r.URL.Path != "/":
		fail(apiError{status: http.StatusNotFound, code: "InvalidAction", message: "unknown path " + r.URL.Path, sender: true})
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		fail(apiError{status: http.StatusBadRequest, code: "MalformedQueryString", message: "Content-Type must be application/x-www-form-urlencoded", sender: true})
		return
	case ferr != nil:
		fail(apiError{status: http.StatusBadRequest, code: "MalformedQueryString", message: ferr.Error(), sender: true})
		return
	case version != EC2Version && version != AutoScalingVersion:
		fail(apiError{status: http.StatusBadRequest, code: "InvalidParameterValue", message: fmt.Sprintf("unsupported Version %q", version), sender: true})
		return
	}
	if e := s.verifySignature(r, body, service); e != nil {
		fail(*e)
		return
	}
	action := form.Get("Action")
	handlers := ec2Actions
	if service == "autoscaling" {
		handlers = asActions
	}
	h, ok := handlers[action]
	if !ok {
		fail(apiError{status: http.StatusBadRequest, code: "InvalidAction", message: fmt.Sprintf("The action %s is not valid for this web service.", action), sender: true})
		return
	}
	for k := range form {
		if k == "Action" || k == "Version" {
			continue
		}
		if !h.params.MatchString(k) {
			code := "UnknownParameter"
			if service == "autoscaling" {
				code = "InvalidParameterValue"
			}
			fail(apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf("The parameter %s is not recognized", k), sender: true})
			return
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, action)
	if s.throttle > 0 {
		s.throttle--
		s.mu.Unlock()
		if service == "ec2" {
			writeError(w, service, apiError{status: http.StatusServiceUnavailable, code: "RequestLimitExceeded", message: "Request limit exceeded."})
		} else {
			writeError(w, service, apiError{status: http.StatusBadRequest, code: "Throttling", message: "Rate exceeded", sender: true})
		}
		return
	}
	resp, e := h.fn(s, form)
	s.mu.Unlock()
	if e != nil {
		writeError(w, service, *e)
		return
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	io.WriteString(w, xml.Header)
	w.Write(out)
}

const requestID = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// verifySignature recomputes the SigV4 signature of r with the fake's key
// and checks the credential scope (key, date, region, service).
func (s *Server) verifySignature(r *http.Request, body []byte, service string) *apiError {
	denied := func(code, msg string) *apiError {
		return &apiError{status: http.StatusForbidden, code: code, message: msg, sender: true}
	}
	if service == "ec2" {
		denied = func(code, msg string) *apiError {
			return &apiError{status: http.StatusUnauthorized, code: code, message: msg}
		}
	}
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return denied("MissingAuthenticationToken", "Request is missing a valid AWS4-HMAC-SHA256 Authorization header.")
	}
	key, date, region, svc, signed := m[1], m[2], m[3], m[4], m[5]
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	switch {
	case key != s.AccessKey:
		return denied("AuthFailure", "AWS was not able to validate the provided access credentials")
	case err != nil || !strings.HasPrefix(amzDate, date):
		return denied("IncompleteSignature", "X-Amz-Date missing or not matching the credential scope date")
	case region != s.Region:
		return denied("SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", region))
	case svc != service:
		return denied("SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hash {
		return denied("SignatureDoesNotMatch", "payload hash does not match")
	}
	clone, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	clone.Host = r.Host
	clone.ContentLength = int64(len(body))
	for _, h := range strings.Split(signed, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, hash, service, region, at); err != nil {
		return denied("SignatureDoesNotMatch", err.Error())
	}
	if clone.Header.Get("Authorization") != r.Header.Get("Authorization") {
		return denied("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	}
	return nil
}

type ec2ErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Errors  struct {
		Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	} `xml:"Errors"`
	RequestID string `xml:"RequestID"`
}

type asErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, service string, e apiError) {
	var v any
	if service == "ec2" {
		var r ec2ErrorResponse
		r.Errors.Error.Code, r.Errors.Error.Message, r.RequestID = e.code, e.message, requestID
		v = r
	} else {
		r := asErrorResponse{NS: asNS, RequestID: requestID}
		r.Error.Type = "Receiver"
		if e.sender {
			r.Error.Type = "Sender"
		}
		r.Error.Code, r.Error.Message = e.code, e.message
		v = r
	}
	out, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	io.WriteString(w, xml.Header)
	w.Write(out)
}

// launch creates one instance; the caller holds mu.
func (s *Server) launch(o Offering, group string, tags map[string]string) *Instance {
	s.nextID++
	in := &Instance{ID: fmt.Sprintf("i-%017x", s.nextID), Offering: o, State: "running", Group: group, Tags: map[string]string{}, LaunchAt: s.now()}
	for k, v := range tags {
		in.Tags[k] = v
	}
	if group != "" {
		in.Tags["aws:autoscaling:groupName"] = group
	}
	s.instances[in.ID] = in
	s.order = append(s.order, in.ID)
	return in
}

// fillGroup launches or removes instances until g has Desired live ones,
// skipping offerings without capacity; the caller holds mu.
func (s *Server) fillGroup(g *Group) {
	live := s.groupInstances(g.Name)
	// A warm pool's instances go into service first.
	for _, in := range s.warmInstances(g.Name) {
		if len(live) >= g.Desired {
			break
		}
		in.Warm, in.State = false, "running"
		in.Protected = g.NewInstancesProtected
		live = append(live, in)
	}
	defer s.fillWarm(g)
	for i := 0; len(live) < g.Desired && i < len(g.Offerings)*g.Desired; i++ {
		o := g.Offerings[(len(live)+i)%len(g.Offerings)]
		if _, dry := s.noCap[o]; dry {
			continue
		}
		in := s.launch(o, g.Name, g.Tags)
		in.Protected = g.NewInstancesProtected
		live = append(live, in)
	}
}

func (s *Server) groupInstances(name string) []*Instance {
	var out []*Instance
	for _, id := range s.order {
		if in := s.instances[id]; in.Group == name && !in.Warm && in.State != "terminated" && in.State != "shutting-down" {
			out = append(out, in)
		}
	}
	return out
}
