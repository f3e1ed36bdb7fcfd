package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
)

// How an abnormal end of a first step is told apart: the job container
// died without its wrapper's end mark (killed by a signal, the OOM killer,
// or the engine going away), or its output or wait broke.
//
// The Docker engine keeps no boot time or instance ID in its API (Info's
// ID survives restarts), so the proof is an event stream: engineWatch
// subscribes, as the step starts, to the job container's events. One
// stream is served by one engine process, and breaks when that process
// ends. The engine that ran the container is still the one serving when
//
//  1. the stream carried the container's "start" and then its "die", and
//  2. an update sent on a fresh connection (never a pooled one: an engine
//     shutting down has closed its listener but still answers on
//     connections already open) comes back as an "update" event on the
//     same stream.
//
// When either fails, the engine stopped or restarted under the job:
// ErrEngine, the job a system failure. When both hold, the container was
// killed from outside the job (docker kill, an administrator) while the
// engine kept running: its exit status is the job's. Both take a few engine round trips, not a
// poll: an engine back within a moment is caught as surely as one that
// stays away, and a docker kill is reported at once.

// Bounds of the confirmation (each an I/O deadline, not a poll).
const (
	// verdictWait bounds the wait for the container's "die" (or the
	// stream's end) after the engine reported the exit.
	verdictWait = 5 * time.Second
	// probeWait bounds the fresh-connection update and its event: a
	// socket-activated engine queues the connection while it restarts.
	probeWait = 10 * time.Second
)

// watchAPI is what the confirmation needs of the engine: the event
// stream, and how to open a connection of its own.
type watchAPI interface {
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
	Dialer() func(context.Context) (net.Conn, error)
	DaemonHost() string
	ClientVersion() string
}

// engineWatch is one event stream on the job container (see above).
type engineWatch struct {
	cancel context.CancelFunc
	// actions carries the container's start, die and update events, in
	// order; it is closed when the stream ends, err saying why.
	actions chan watchEvent
	err     error
}

type watchEvent struct {
	action events.Action
	exit   string // exitCode attribute of a die
}

// watchFirst opens the engine watch of the first-step container and
// returns the function that closes it. The subscription runs in the
// background (the start does not wait for it): it replays the
// container's buffered events, so a start before it connected is seen.
func (v *Env) watchFirst(ctx context.Context) (stop func()) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &engineWatch{cancel: cancel, actions: make(chan watchEvent, 8)}
	v.mu.Lock()
	v.watch = w
	v.mu.Unlock()
	go w.run(wctx, v.ex.api, v.firstID)
	return cancel
}

func (w *engineWatch) run(ctx context.Context, wa watchAPI, id string) {
	defer close(w.actions)
	msgs, errs := wa.Events(ctx, events.ListOptions{
		// Since the epoch: replay what the engine still holds of this
		// container (its start, if the stream connects after it).
		Since: "1",
		Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)),
			filters.Arg("container", id),
			filters.Arg("event", string(events.ActionStart)),
			filters.Arg("event", string(events.ActionDie)),
			filters.Arg("event", string(events.ActionUpdate)),
		),
	})
	for {
		select {
		case m := <-msgs:
			select {
			case w.actions <- watchEvent{action: m.Action, exit: m.Actor.Attributes["exitCode"]}:
			case <-ctx.Done():
				w.err = ctx.Err()
				return
			}
		case err := <-errs:
			if err == nil {
				err = errors.New("the event stream closed")
			}
			w.err = err
			return
		}
	}
}

// next returns the stream's next event, or its end (ok false, w.err), or
// a timeout error after d.
func (w *engineWatch) next(d time.Duration) (watchEvent, bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case ev, ok := <-w.actions:
		if !ok {
			return ev, false, w.err
		}
		return ev, true, nil
	case <-t.C:
		return watchEvent{}, true, fmt.Errorf("no event within %s", d)
	}
}

// until reads the stream until action; an error says why it did not come.
func (w *engineWatch) until(action events.Action, d time.Duration, before func(watchEvent) error) (watchEvent, error) {
	for {
		ev, ok, err := w.next(d)
		switch {
		case !ok:
			return ev, fmt.Errorf("the engine's event stream ended: %v", err)
		case err != nil:
			return ev, fmt.Errorf("the engine did not report the container's %s: %v", action, err)
		case ev.action == action:
			return ev, nil
		}
		if before != nil {
			if err := before(ev); err != nil {
				return ev, err
			}
		}
	}
}

// engineStopped tells a first step that ended abnormally (code: the exit
// status the engine reported, or -1 when its output or wait broke first)
// whether the engine stopped or restarted under it: then it returns the
// ErrEngine to fail the job with, after a log line saying so; nil means
// the engine kept running and the exit is the job's own.
func (v *Env) engineStopped(ctx context.Context, code int64) error {
	v.mu.Lock()
	w := v.watch
	v.mu.Unlock()
	why := v.confirmEngine(ctx, w)
	if why == nil {
		v.ex.log.InfoContext(ctx, "the job container was killed from outside the job; the engine kept running",
			"job", v.jobID, "exit_code", code)
		return nil
	}
	v.ex.log.WarnContext(ctx, "the Docker engine stopped or restarted under a running job", "job", v.jobID, "exit_code", code, "err", why)
	if code < 0 {
		return fmt.Errorf("docker: the container engine stopped or restarted under the job (%v): %w", why, executors.ErrEngine)
	}
	return fmt.Errorf("docker: the container engine stopped or restarted under the job (its container ended with exit code %d; %v): %w",
		code, why, executors.ErrEngine)
}

// confirmEngine returns nil when the engine that started the job
// container saw it die and still serves (see the top of this file), or
// what shows otherwise.
func (v *Env) confirmEngine(ctx context.Context, w *engineWatch) error {
	if w == nil {
		return errors.New("no event stream watched the job container")
	}
	started := false
	if _, err := w.until(events.ActionDie, verdictWait, func(ev watchEvent) error {
		started = started || ev.action == events.ActionStart
		return nil
	}); err != nil {
		return err
	}
	if !started {
		return errors.New("the engine that reported the container's end is not the one that started it")
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeWait)
	defer cancel()
	if err := freshUpdate(pctx, v.ex.api, v.firstID); err != nil {
		return fmt.Errorf("the engine does not answer a new connection: %w", err)
	}
	if _, err := w.until(events.ActionUpdate, probeWait, nil); err != nil {
		return err
	}
	return nil
}

// freshUpdate sends an empty update of container id (a no-op the engine
// logs as an "update" event) on a connection of its own.
func freshUpdate(ctx context.Context, wa watchAPI, id string) error {
	dial := wa.Dialer() // the engine's address, TLS included
	tr := &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c, err := client.NewClientWithOpts(client.WithHost(wa.DaemonHost()), client.WithVersion(wa.ClientVersion()),
		client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ContainerUpdate(ctx, id, container.UpdateConfig{})
	return err
}

// streamBroke turns a first step's broken output or wait (op) into the
// error to return: ctx's error when the caller gave up; the engine loss
// when the engine stopped or restarted (engineStopped); otherwise an
// ErrEngine for the broken connection to an engine that kept running.
func (v *Env) streamBroke(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return firstFailure(ctx, op, err)
	}
	if lost := v.engineStopped(ctx, -1); lost != nil {
		return fmt.Errorf("%w (%s: %v)", lost, op, err)
	}
	return engineErr(op, err)
}
