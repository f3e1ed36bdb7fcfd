package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Verify checks a runner authentication token (glrt-…) for this system ID:
// POST runners/verify. A 403 (invalid token) matches ErrForbidden.
func (c *Client) Verify(ctx context.Context, token, systemID string, info VersionInfo) (VerifyResult, error) {
	body := struct {
		Token    string      `json:"token"`
		SystemID string      `json:"system_id,omitempty"`
		Info     VersionInfo `json:"info"`
	}{token, systemID, info}
	r, err := c.doJSON(ctx, apiCall{
		endpoint: EndpointVerify, method: http.MethodPost, path: "runners/verify",
		runnerToken: token, retryMax: c.retryMax,
	}, body)
	if err != nil {
		return VerifyResult{}, err
	}
	return c.verifyResult(EndpointVerify, r, http.StatusOK, http.StatusCreated)
}

// Register creates a runner with a legacy registration token: POST runners.
// A 410 matches ErrLegacyRegistrationDisabled, a 403 ErrForbidden.
func (c *Client) Register(ctx context.Context, regToken string, req RegisterRequest) (VerifyResult, error) {
	body := struct {
		Token   string `json:"token"`
		TagList string `json:"tag_list,omitempty"`
		RegisterRequest
	}{regToken, strings.Join(req.Tags, ","), req}
	r, err := c.doJSON(ctx, apiCall{
		endpoint: EndpointRegister, method: http.MethodPost, path: "runners", retryMax: c.retryMax,
	}, body)
	if err != nil {
		return VerifyResult{}, err
	}
	return c.verifyResult(EndpointRegister, r, http.StatusCreated)
}

// ResetToken rotates a runner authentication token:
// POST runners/reset_authentication_token. The result holds the new token
// and its expiry.
func (c *Client) ResetToken(ctx context.Context, token string) (VerifyResult, error) {
	body := struct {
		Token string `json:"token"`
	}{token}
	r, err := c.doJSON(ctx, apiCall{
		endpoint: EndpointResetToken, method: http.MethodPost, path: "runners/reset_authentication_token",
		runnerToken: token, retryMax: c.retryMax,
	}, body)
	if err != nil {
		return VerifyResult{}, err
	}
	return c.verifyResult(EndpointResetToken, r, http.StatusCreated, http.StatusOK)
}

func (c *Client) verifyResult(endpoint string, r *apiResponse, ok ...int) (VerifyResult, error) {
	for _, code := range ok {
		if r.code == code {
			var w verifyWire
			if err := json.Unmarshal(r.body, &w); err != nil {
				return VerifyResult{}, fmt.Errorf("gitlab %s: decoding answer: %w", endpoint, err)
			}
			return w.result(), nil
		}
	}
	return VerifyResult{}, c.statusError(endpoint, r)
}

// UnregisterManager removes this machine (system ID) from a runner:
// DELETE runners/managers.
func (c *Client) UnregisterManager(ctx context.Context, token, systemID string) error {
	body := struct {
		Token    string `json:"token"`
		SystemID string `json:"system_id"`
	}{token, systemID}
	return c.unregister(ctx, EndpointUnregisterManager, "runners/managers", token, body)
}

// UnregisterRunner deletes a runner: DELETE runners.
func (c *Client) UnregisterRunner(ctx context.Context, token string) error {
	body := struct {
		Token string `json:"token"`
	}{token}
	return c.unregister(ctx, EndpointUnregisterRunner, "runners", token, body)
}

func (c *Client) unregister(ctx context.Context, endpoint, path, token string, body any) error {
	r, err := c.doJSON(ctx, apiCall{
		endpoint: endpoint, method: http.MethodDelete, path: path, runnerToken: token, retryMax: c.retryMax,
	}, body)
	if err != nil {
		return err
	}
	if r.code != http.StatusNoContent && r.code != http.StatusOK {
		return c.statusError(endpoint, r)
	}
	return nil
}

// RequestResult is the answer to a job request.
type RequestResult struct {
	// Job is nil when there is no job (204).
	Job *JobResponse
	// LastUpdate is X-GitLab-Last-Update, to send back as
	// RequestJobBody.LastUpdate for long polling.
	LastUpdate string
	// RawJSON is the job payload as received (nil on 204).
	RawJSON []byte
}

// RequestJob asks for a job: POST jobs/request. No job is a nil Job, not an
// error. Errors: 403 ErrForbidden, 409 ErrConflict (poll again), 422
// ErrOrphaned, 429 ErrTooManyRequests (see RetryAfter), 5xx ErrServer. The
// client retries at most ClientOptions.RequestJobRetryMax times itself, so
// the caller's own backoff loop stays in charge.
func (c *Client) RequestJob(ctx context.Context, body RequestJobBody) (RequestResult, error) {
	r, err := c.doJSON(ctx, apiCall{
		endpoint: EndpointRequestJob, method: http.MethodPost, path: "jobs/request",
		runnerToken: body.Token, retryMax: c.requestJobRetryMax,
	}, body)
	if err != nil {
		return RequestResult{}, err
	}
	res := RequestResult{LastUpdate: r.header.Get(headerLastUpdate)}
	switch r.code {
	case http.StatusNoContent:
		return res, nil
	case http.StatusCreated:
		job, err := decodeJobBytes(r.body)
		if err != nil {
			return res, fmt.Errorf("gitlab %s: %w", EndpointRequestJob, err)
		}
		res.Job, res.RawJSON = job, r.body
		c.BindJob(job.Token, body.Token)
		return res, nil
	}
	return res, c.statusError(EndpointRequestJob, r)
}
