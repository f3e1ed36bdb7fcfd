package github

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/time/rate"

	"github.com/runfleet/runfleet/runner/ratelimit"
)

// MintBudgets hands out one JIT minting token bucket per credential, so
// every label-mode source and scale set minting with the same GitHub App
// (or token) on one GitHub host draws on one budget: GitHub's limit
// (about 170 JIT configs a minute) is per App, not per source.
// Safe for concurrent use.
type MintBudgets struct {
	mu   sync.Mutex
	m    map[string]*rate.Limiter
	gate *ratelimit.Gate
}

// NewMintBudgets returns an empty set of budgets.
func NewMintBudgets() *MintBudgets {
	return &MintBudgets{m: map[string]*rate.Limiter{}, gate: ratelimit.New(ratelimit.Options{})}
}

// RateGate is the rate-limit gate shared by every client drawing on these
// budgets (ClientOptions.RateGate): a limit seen by one pauses them all.
func (b *MintBudgets) RateGate() *ratelimit.Gate { return b.gate }

// For returns the bucket of key, creating it with perMinute (0 means
// DefaultJITPerMinute); the first caller's rate holds for the key.
func (b *MintBudgets) For(key string, perMinute float64) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.m[key]; ok {
		return l
	}
	l := NewMintLimiter(perMinute)
	b.m[key] = l
	return l
}

// NewMintLimiter is a JIT minting token bucket of perMinute (0 means
// DefaultJITPerMinute) with a burst of a tenth of a minute's budget.
func NewMintLimiter(perMinute float64) *rate.Limiter {
	if perMinute <= 0 {
		perMinute = DefaultJITPerMinute
	}
	return rate.NewLimiter(rate.Limit(perMinute/60), max(1, int(perMinute/6)))
}

// BudgetKey names the credential a budget belongs to: the GitHub App on
// host, or a token (hashed: keys may be logged).
func BudgetKey(host string, appID int64, token string) string {
	host = strings.ToLower(host)
	if appID != 0 {
		return "app:" + host + ":" + strconv.FormatInt(appID, 10)
	}
	sum := sha256.Sum256([]byte(token))
	return "token:" + host + ":" + hex.EncodeToString(sum[:8])
}

// GateKey is the rate-limit gate key of a GitHub App (appID) or token on
// host: the one key under which label mode's Client and the scale-set
// clients (runner/github/scaleset.RateGate) of that credential wait, so a
// limit either sees pauses both.
func GateKey(host string, appID int64, token string) string {
	return "github:" + BudgetKey(host, appID, token)
}
