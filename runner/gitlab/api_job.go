package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UpdateResult is the answer to a job update.
type UpdateResult struct {
	// Code is 200 (done) or 202 (accepted, not complete: retry after
	// UpdateInterval).
	Code int
	// JobStatus is the Job-Status header ("running", "canceling", …).
	JobStatus string
	// UpdateInterval is X-GitLab-Trace-Update-Interval, 0 when absent.
	UpdateInterval time.Duration
}

// UpdateJob sends the job's state: PUT jobs/:id, authenticated by
// body.Token (the job token). Errors: 403 ErrJobNotRunning, 409
// ErrConflict, 412 ErrResendTrace, 5xx ErrServer; their StatusError carries
// JobStatus too.
func (c *Client) UpdateJob(ctx context.Context, jobID int64, body UpdateJobBody) (UpdateResult, error) {
	r, err := c.doJSON(ctx, apiCall{
		endpoint: EndpointUpdateJob, method: http.MethodPut, path: "jobs/" + strconv.FormatInt(jobID, 10),
		jobToken: body.Token, retryMax: c.retryMax,
	}, body)
	if err != nil {
		return UpdateResult{}, err
	}
	switch r.code {
	case http.StatusOK, http.StatusAccepted:
		if r.code == http.StatusOK && (body.State == StateSuccess || body.State == StateFailed) {
			c.unbindJob(body.Token)
		}
		return UpdateResult{
			Code:           r.code,
			JobStatus:      r.header.Get(headerJobStatus),
			UpdateInterval: updateInterval(r.header),
		}, nil
	case http.StatusForbidden: // the job is gone: so is its binding
		c.unbindJob(body.Token)
	}
	return UpdateResult{}, c.statusError(EndpointUpdateJob, r)
}

// PatchResult is the answer to a trace patch.
type PatchResult struct {
	// NewOffset is the size of the log on the server (from "Range: 0-N").
	NewOffset      int64
	JobStatus      string
	UpdateInterval time.Duration
}

// PatchTrace appends data to the job log at offset: PATCH jobs/:id/trace
// with "Content-Range: <start>-<end>" (inclusive; omitted for empty data).
// A 416 is a *RangeError telling where to resume; a 403 matches
// ErrJobNotRunning.
func (c *Client) PatchTrace(ctx context.Context, jobID int64, jobToken string, offset int64, data []byte) (PatchResult, error) {
	h := http.Header{}
	if len(data) > 0 {
		h.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(data))-1))
	}
	r, err := c.do(ctx, apiCall{
		endpoint: EndpointPatchTrace, method: http.MethodPatch,
		path:     "jobs/" + strconv.FormatInt(jobID, 10) + "/trace",
		jobToken: jobToken, body: data, contentType: "text/plain", header: h, retryMax: c.retryMax,
	})
	if err != nil {
		return PatchResult{}, err
	}
	switch {
	case r.code >= 200 && r.code < 300:
		res := PatchResult{
			NewOffset:      offset + int64(len(data)),
			JobStatus:      r.header.Get(headerJobStatus),
			UpdateInterval: updateInterval(r.header),
		}
		if n, ok := parseRange(r.header.Get("Range")); ok {
			res.NewOffset = n
		}
		return res, nil
	case r.code == http.StatusRequestedRangeNotSatisfiable:
		if n, ok := parseRange(r.header.Get("Range")); ok {
			return PatchResult{}, &RangeError{Offset: n, JobStatus: r.header.Get(headerJobStatus)}
		}
	case r.code == http.StatusForbidden: // the job is gone: so is its binding
		c.unbindJob(jobToken)
	}
	return PatchResult{}, c.statusError(EndpointPatchTrace, r)
}

// parseRange reads "0-N" (as GitLab sends it) and returns N.
func parseRange(v string) (int64, bool) {
	start, end, ok := strings.Cut(strings.TrimSpace(v), "-")
	if !ok || strings.TrimSpace(start) != "0" {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
