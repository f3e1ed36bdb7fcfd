package gitlabtest

import (
	"net/http"
	"strconv"
	"time"
)

// FaultRule makes an endpoint answer wrongly instead of doing its work.
// Status is the injected answer (500, 502, 503, 429, 202, 412, 416, …); a
// Hang holds the request first (until the client gives up, the hang ends or
// the server closes) and then answers Status, or drops the connection when
// Status is 0. 202 and 412 apply to final job updates only; 416 to trace
// patches (with the Range the stored log has). Rules fire with Probability
// (1 when zero) up to Count times (unlimited when zero), decided by the
// server's seeded generator, so a run is repeatable.
type FaultRule struct {
	Endpoint    Endpoint
	Status      int
	RetryAfter  int // seconds, sent with 429 and 503
	Hang        time.Duration
	Probability float64
	Count       int
}

// FaultPlan is a set of fault rules; the first rule that fires wins.
type FaultPlan struct {
	Rules []FaultRule
}

type faultState struct {
	rules []FaultRule
	fired []int
}

// Faults replaces the fault plan.
func (s *Server) Faults(p FaultPlan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = &faultState{rules: p.Rules, fired: make([]int, len(p.Rules))}
}

// FaultsFired reports how many times each rule of the current plan fired.
func (s *Server) FaultsFired() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		return nil
	}
	return append([]int(nil), s.faults.fired...)
}

// injectFault answers r with a fault when a rule fires, reporting whether
// it did. final says whether a job update is final (202/412 rules).
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, ep Endpoint, final bool) bool {
	s.mu.Lock()
	rule, ok := s.pickFaultLocked(ep, final)
	var traceSize int
	if ok && rule.Status == http.StatusRequestedRangeNotSatisfiable {
		if j := s.jobs[infoOf(r).jobID]; j != nil {
			traceSize = len(j.trace)
		}
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	infoOf(r).fault = true
	if rule.Hang > 0 {
		t := time.NewTimer(rule.Hang)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.done:
		}
		t.Stop()
	}
	if rule.Status == 0 {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		rule.Status = http.StatusBadGateway
	}
	if rule.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rule.RetryAfter))
	}
	switch rule.Status {
	case http.StatusRequestedRangeNotSatisfiable:
		w.Header().Set("Range", "0-"+strconv.Itoa(traceSize))
		writeMessage(w, rule.Status, "416 Range Not Satisfiable")
	case http.StatusAccepted:
		w.Header().Set("X-GitLab-Trace-Update-Interval", "1")
		writeMessage(w, rule.Status, "202 Accepted")
	default:
		writeMessage(w, rule.Status, strconv.Itoa(rule.Status)+" "+http.StatusText(rule.Status))
	}
	return true
}

func (s *Server) pickFaultLocked(ep Endpoint, final bool) (FaultRule, bool) {
	if s.faults == nil {
		return FaultRule{}, false
	}
	for i, rule := range s.faults.rules {
		if rule.Endpoint != ep {
			continue
		}
		if (rule.Status == http.StatusAccepted || rule.Status == http.StatusPreconditionFailed) && !final {
			continue
		}
		if rule.Count > 0 && s.faults.fired[i] >= rule.Count {
			continue
		}
		if rule.Probability > 0 && s.rng.Float64() >= rule.Probability {
			continue
		}
		s.faults.fired[i]++
		return rule, true
	}
	return FaultRule{}, false
}
