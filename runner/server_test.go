package runner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestServeHealth: the agent's server (serve's limits) answers /healthz
// (503 with the reason when not ready) and stops with its context.
func TestServeHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	notReady := errors.New("engine down")
	var ready atomic.Pointer[error]
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, addr, prometheus.NewRegistry(), func() error {
			if e := ready.Load(); e != nil {
				return *e
			}
			return nil
		}, slog.New(slog.DiscardHandler))
	}()
	c := &http.Client{Timeout: 5 * time.Second}
	get := func() (int, string, error) {
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := get(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the server did not answer within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body, _ := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	ready.Store(&notReady)
	if code, body, _ := get(); code != http.StatusServiceUnavailable || body != "engine down\n" {
		t.Fatalf("/healthz not ready: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its context ending")
	}
}
