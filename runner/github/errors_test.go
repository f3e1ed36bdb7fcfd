package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	gh "github.com/google/go-github/v92/github"
)

// TestStatusKind: the one mapping of HTTP statuses to the typed errors,
// which GitHub's REST answers (classify) and the fleet API's
// (runner/fleet) both go through.
func TestStatusKind(t *testing.T) {
	for _, tc := range []struct {
		code     int
		deleting bool
		want     error
	}{
		{http.StatusBadRequest, false, ErrInvalid},
		{http.StatusBadRequest, true, ErrInvalid}, // malformed is never busy
		{http.StatusUnauthorized, false, ErrUnauthorized},
		{http.StatusForbidden, true, ErrUnauthorized},
		{http.StatusNotFound, false, ErrNotFound},
		{http.StatusNotFound, true, ErrNotFound},
		{http.StatusConflict, false, ErrInvalid}, // a runner of that name exists; a fleet node's slots are full
		{http.StatusConflict, true, ErrRunnerBusy},
		{http.StatusUnprocessableEntity, false, ErrInvalid},
		{http.StatusUnprocessableEntity, true, ErrRunnerBusy},
		{http.StatusTooManyRequests, false, ErrRateLimited},
		{http.StatusTooManyRequests, true, ErrRateLimited},
		{http.StatusOK, false, nil},
		{http.StatusInternalServerError, false, nil},
		{http.StatusBadGateway, true, nil},
	} {
		t.Run(fmt.Sprintf("%d deleting=%t", tc.code, tc.deleting), func(t *testing.T) {
			if got := StatusKind(tc.code, tc.deleting); got != tc.want {
				t.Errorf("StatusKind = %v, want %v", got, tc.want)
			}
			// classify wraps go-github's answer in the same kind and keeps
			// the original.
			er := &gh.ErrorResponse{Response: &http.Response{StatusCode: tc.code, Request: httptest.NewRequest(http.MethodPost, "https://api.github.com/orgs/acme/actions/runners", nil)}}
			err := classify("op", tc.deleting, er)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("classify: %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrInvalid, ErrUnauthorized, ErrNotFound, ErrRunnerBusy, ErrRateLimited} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("classify: %v is also %v", err, other)
				}
			}
			if !errors.Is(err, er) || err.Error() == "" {
				t.Errorf("classify: %v lost go-github's error", err)
			}
		})
	}
}
