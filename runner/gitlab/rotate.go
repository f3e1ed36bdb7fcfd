package gitlab

import (
	"context"
	"fmt"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// rotateAt is the share of a token's lifetime after which it is renewed,
// as gitlab-runner does.
const rotateAt = 0.75

// TokenSaver persists a rotated token (the config file) before the agent
// uses it, so a crash cannot lose the only valid token.
type TokenSaver func(oldToken string, res VerifyResult, obtained time.Time) error

// RotateToken renews the runner's expiring authentication token at 75 %
// of its lifetime (POST runners/reset_authentication_token), saves it and
// switches polling to it, until ctx ends. Tokens that do not expire are
// left alone. Failures are retried with backoff; they are logged loudly
// because an expired token stops the runner.
func (s *Source) RotateToken(ctx context.Context, save TokenSaver) error {
	obtained, expires := s.o.Runner.TokenObtainedAt, s.o.Runner.TokenExpiresAt
	if expires.IsZero() {
		return nil
	}
	if obtained.IsZero() || !obtained.Before(expires) {
		obtained = s.o.Clock.Now()
	}
	retry := &Backoff{Min: 5 * time.Second, Max: 5 * time.Minute, Jitter: EqualJitter}
	wait := obtained.Add(time.Duration(rotateAt * float64(expires.Sub(obtained)))).Sub(s.o.Clock.Now())
	for {
		if err := clock.Sleep(ctx, s.o.Clock, wait); err != nil {
			return nil
		}
		s.mu.Lock()
		old := s.token
		s.mu.Unlock()
		res, err := s.o.Client.ResetToken(ctx, old)
		if err == nil {
			now := s.o.Clock.Now()
			if err = save(old, res, now); err == nil {
				s.mu.Lock()
				s.token = res.Token
				s.mu.Unlock()
				s.log.Info("runner token rotated", "expires", res.TokenExpiresAt)
				expires = res.TokenExpiresAt
				retry.Reset()
				if expires.IsZero() {
					return nil
				}
				wait = time.Duration(rotateAt * float64(expires.Sub(now)))
				continue
			}
			err = fmt.Errorf("saving the rotated token: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		wait = retry.Next()
		s.log.Error("rotating the runner token failed", "err", err, "expires", expires, "retry_in", wait)
	}
}
