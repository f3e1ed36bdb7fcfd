package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// TestRetryable: a secondary limit answered to one retryable client
// pauses its retry and every other client with the same key until the
// gate's clock has passed the Retry-After; then both go through. Nothing
// reaches the server meanwhile.
func TestRetryable(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit."}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	g := New(Options{Clock: clk})
	gated := func() *retryablehttp.Client {
		c := retryablehttp.NewClient()
		c.RetryWaitMin, c.RetryWaitMax, c.Logger = time.Millisecond, time.Millisecond, nil
		return g.Retryable(c, func(*http.Request) string { return "github:k" }, GitHubLimit)
	}
	get := func(c *retryablehttp.Client, done chan<- int) {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Errorf("GET: %v", err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}
	waiter := func(what string) {
		t.Helper()
		select {
		case <-clk.added:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not wait at the gate within 10s", what)
		}
	}
	first, second := make(chan int, 1), make(chan int, 1)
	go get(gated(), first)
	waiter("the limited call's retry")
	go get(gated(), second)
	waiter("another client's call with the same key")
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests reached the server during the pause, want only the limited one", n)
	}
	clk.Advance(30 * time.Second)
	for _, c := range []chan int{first, second} {
		select {
		case code := <-c:
			if code != http.StatusOK {
				t.Errorf("after the pause: status %d, want 200", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call did not go through within 10s of the pause's end")
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests in all, want 3", n)
	}
}
