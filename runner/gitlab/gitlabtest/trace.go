package gitlabtest

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
)

var contentRangePattern = regexp.MustCompile(`^([0-9]+)-([0-9]+)$`)

func (s *Server) handlePatchTrace(w http.ResponseWriter, r *http.Request) {
	id := infoOf(r).jobID
	data, readErr := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.maxTracePatch))

	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	setJobStatus(w, j)
	if tok := r.Header.Get("JOB-TOKEN"); j.token == "" || tok != j.token {
		j.event("trace patch with a bad token: 403")
		writeMessage(w, http.StatusForbidden, "403 Forbidden - invalid job token")
		return
	}
	if !j.onRunner() {
		j.event("trace patch on a %s job: 403", j.state)
		writeMessage(w, http.StatusForbidden, "403 Forbidden - Job is not running")
		return
	}
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		s.violateLocked("job %d: trace patch without Content-Range", j.id)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Missing header Content-Range")
		return
	}
	m := contentRangePattern.FindStringSubmatch(cr)
	if m == nil {
		s.violateLocked("job %d: malformed Content-Range %q", j.id, cr)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Content-Range is invalid")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "text/plain" {
		s.violateLocked("job %d: trace patch with Content-Type %q, want text/plain", j.id, r.Header.Get("Content-Type"))
	}
	if readErr != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](readErr); tooBig {
			j.event("trace patch over %d bytes: 413", s.cfg.maxTracePatch)
			s.violateLocked("job %d: trace patch over %d bytes", j.id, s.cfg.maxTracePatch)
			writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
			return
		}
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+readErr.Error())
		return
	}
	start, err1 := strconv.ParseInt(m[1], 10, 64)
	end, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Content-Range is invalid")
		return
	}
	size := int64(len(j.trace))
	if start != size {
		j.event("trace patch %s, server has %d bytes: 416", cr, size)
		w.Header().Set("Range", fmt.Sprintf("0-%d", size))
		writeMessage(w, http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable")
		return
	}
	if len(data) == 0 || end != start+int64(len(data))-1 {
		// GitLab itself ignores the end; the protocol notes say inclusive,
		// and an empty patch is pointless: be strict.
		s.violateLocked("job %d: Content-Range %s for %d bytes, want %d-%d (inclusive)",
			j.id, cr, len(data), start, start+int64(len(data))-1)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Content-Range does not match the body")
		return
	}
	j.trace = append(j.trace, data...)
	w.Header().Set("Range", fmt.Sprintf("0-%d", len(j.trace)))
	w.Header().Set("X-GitLab-Trace-Update-Interval", strconv.Itoa(s.cfg.updateInterval))
	w.WriteHeader(http.StatusAccepted)
}

// AppendTrace appends data to the stored log of job id as if a PATCH had
// arrived (e.g. to make the runner's offset stale and provoke a 416).
func (s *Server) AppendTrace(id int64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.mustJobLocked(id); j != nil {
		j.trace = append(j.trace, data...)
		j.event("test appended %d bytes to the log", len(data))
	}
}
