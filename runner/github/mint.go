package github

import (
	"context"
)

// mintResult is the answer to one mint request.
type mintResult struct {
	jit JITConfig
	err error
}

// mint registers the runner named name. The request does not end with
// ctx: a mint cut off mid-flight (the slot preempted for another source,
// or the agent stopping) may register the runner on GitHub's side after
// any look-up made at once, leaving an offline registration nobody
// deletes. So the request runs to its answer on a context of its own
// (bounded by CleanupTimeout) and, when ctx ends first, mint returns
// ctx's error at once while the answer is awaited in the background and
// the registration it made, if any, deleted by id (RemoveStale waits for
// those).
func (s *Source) mint(ctx context.Context, name string) (JITConfig, error) {
	req := JITRequest{Name: name, RunnerGroupID: s.o.RunnerGroupID, Labels: s.o.Labels}
	mctx, cancel := s.cleanupCtx(ctx)
	done := make(chan mintResult, 1)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		defer cancel()
		jit, err := s.o.API.MintJIT(mctx, req)
		done <- mintResult{jit, err}
	}()
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() != nil {
			s.discardMint(ctx, name, r)
			return JITConfig{}, ctx.Err()
		}
		return r.jit, r.err
	case <-ctx.Done():
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			s.discardMint(ctx, name, <-done)
		}()
		return JITConfig{}, ctx.Err()
	}
}

// discardMint deletes the registration a cancelled Acquire's mint made.
// It is journalled first, so that a crash before the delete still has the
// next start remove it. A mint that failed may still have registered the
// runner (its answer lost): then the registration is looked up by name.
func (s *Source) discardMint(ctx context.Context, name string, r mintResult) {
	if r.err != nil {
		s.removeNamed(ctx, name)
		return
	}
	log := s.log.With("github_runner", name, "github_runner_id", r.jit.RunnerID)
	s.runners().Record(log, name, r.jit.RunnerID)
	cctx, cancel := s.cleanupCtx(ctx)
	defer cancel()
	if err := s.unregister(cctx, r.jit.RunnerID); err != nil {
		log.Warn("deleting the registration of a runner minted for a slot that was given up", "err", err)
		return
	}
	log.Debug("deleted the registration of a runner minted for a slot that was given up")
}

// settleMints waits until the mints that cancelled Acquires left in
// flight have been answered and their registrations deleted, or ctx ends.
func (s *Source) settleMints(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
