package gitlabtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// FaultPlan injects failures, deterministically: rules are matched in
// order, the first that fires answers the request. Probabilities draw from a
// generator per rule seeded with Seed and the rule's index.
type FaultPlan struct {
	Seed  uint64
	Rules []FaultRule
}

// FaultRule answers matching requests with Status instead of serving them.
//
// A rule fires on the matching requests after the first Skip, at most Count
// times (0 = no limit), each time with Probability (0 = always). Hang holds
// the request first — until Hang passes, the client gives up or the server
// closes — then answers Status, or serves the request normally when Status
// is 0 (a slow answer).
//
// Statuses with meaning on a job call keep it: 416 on PATCH trace carries
// Range: 0-<stored size> and appends nothing; 412 on a job update drops the
// stored log (resend from 0); 202 on a job update accepts nothing and
// carries X-GitLab-Trace-Update-Interval. 429 and 503 carry Retry-After when
// RetryAfter is set.
type FaultRule struct {
	Endpoint    Endpoint // empty: every runner API endpoint (not git)
	FinalOnly   bool     // EndpointUpdateJob: only updates with state success/failed
	Status      int
	RetryAfter  time.Duration
	Hang        time.Duration
	Skip        int
	Count       int
	Probability float64
}

type faultState struct {
	rules   []FaultRule
	rngs    []*rand.Rand
	seen    []int
	fired   []int
	byPoint map[Endpoint]int
}

// Faults replaces the fault plan; a zero FaultPlan removes all faults.
func (s *Server) Faults(p FaultPlan) {
	fs := &faultState{rules: p.Rules, byPoint: map[Endpoint]int{}}
	for i := range p.Rules {
		fs.rngs = append(fs.rngs, rand.New(rand.NewPCG(p.Seed, uint64(i)+1)))
	}
	fs.seen = make([]int, len(p.Rules))
	fs.fired = make([]int, len(p.Rules))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = fs
}

// FaultsFired returns how many injected answers each endpoint got.
func (s *Server) FaultsFired() map[Endpoint]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Endpoint]int{}
	if s.faults != nil {
		for k, v := range s.faults.byPoint {
			out[k] = v
		}
	}
	return out
}

// pickFaultLocked returns the rule that fires for the request, if any.
func (s *Server) pickFaultLocked(ep Endpoint, final bool) (FaultRule, bool) {
	fs := s.faults
	if fs == nil {
		return FaultRule{}, false
	}
	for i, rule := range fs.rules {
		if rule.Endpoint != "" && rule.Endpoint != ep || rule.Endpoint == "" && ep == EndpointGit {
			continue
		}
		if rule.FinalOnly && (ep != EndpointUpdateJob || !final) {
			continue
		}
		fs.seen[i]++
		if fs.seen[i] <= rule.Skip || rule.Count > 0 && fs.fired[i] >= rule.Count {
			continue
		}
		if rule.Probability > 0 && fs.rngs[i].Float64() >= rule.Probability {
			continue
		}
		fs.fired[i]++
		return rule, true
	}
	return FaultRule{}, false
}

// injectFault answers the request from the fault plan; it reports whether
// it did.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, ep Endpoint, final bool) bool {
	s.mu.Lock()
	rule, ok := s.pickFaultLocked(ep, final)
	s.mu.Unlock()
	if !ok {
		return false
	}
	if rule.Hang > 0 {
		s.sleepOrDone(r.Context(), rule.Hang, nil)
	}
	if rule.Status == 0 {
		return false
	}
	info := infoOf(r)
	info.fault = true
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.byPoint[ep]++
	j := s.jobs[info.jobID]
	if j != nil {
		j.event("fault: %s answered %d", ep, rule.Status)
	}
	if rule.RetryAfter > 0 {
		seconds := int((rule.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		if rule.Status == http.StatusTooManyRequests {
			s.rateLimitedLocked(r, rule.Status, seconds, s.cfg.now())
		}
	}
	switch {
	case j != nil && ep == EndpointPatchTrace && rule.Status == http.StatusRequestedRangeNotSatisfiable:
		setJobStatus(w, j)
		w.Header().Set("Range", fmt.Sprintf("0-%d", len(j.trace)))
	case j != nil && ep == EndpointUpdateJob && rule.Status == http.StatusPreconditionFailed:
		setJobStatus(w, j)
		j.trace = nil
		j.event("412 (fault): trace reset, resend the whole log")
	case j != nil && ep == EndpointUpdateJob && rule.Status == http.StatusAccepted:
		setJobStatus(w, j)
		w.Header().Set("X-GitLab-Trace-Update-Interval", strconv.Itoa(s.cfg.updateInterval))
	}
	writeMessage(w, rule.Status, fmt.Sprintf("%d %s (injected)", rule.Status, http.StatusText(rule.Status)))
	return true
}
