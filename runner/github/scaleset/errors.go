package scaleset

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Errors that drive the listener's recovery.
var (
	// ErrSessionConflict: the scale set already has a message session
	// (409); the listener waits and retries.
	ErrSessionConflict = errors.New("scale set message session held elsewhere")
	// ErrScaleSetGone: the scale set (or its session) no longer exists
	// (404); the listener resolves the scale set by name again,
	// re-creating it, and opens a new session.
	ErrScaleSetGone = errors.New("scale set not found")
	// ErrNotConnected: Queued was asked before any statistics arrived.
	ErrNotConnected = errors.New("scale set listener has no statistics yet")
)

// httpStatus extracts the HTTP status from an actions/scaleset error. The
// v0.4.0 client reports failed calls as wrapped strings only
// (`request GET … failed(status="404 Not Found", …)`), with typed errors
// just for a few runner cases, so the status is read back from the text.
func httpStatus(err error) int {
	if err == nil {
		return 0
	}
	msg := err.Error()
	i := strings.Index(msg, `status="`)
	if i < 0 || len(msg) < i+11 {
		return 0
	}
	n, convErr := strconv.Atoi(msg[i+8 : i+11])
	if convErr != nil {
		return 0
	}
	return n
}

// HTTPStatus is the HTTP status of a failed actions/scaleset call (0 when
// the error carries none).
func HTTPStatus(err error) int { return httpStatus(err) }

// classify wraps err with the sentinel its status calls for.
func classify(err error) error {
	switch httpStatus(err) {
	case http.StatusConflict:
		return fmt.Errorf("%w: %w", ErrSessionConflict, err)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrScaleSetGone, err)
	}
	return err
}
