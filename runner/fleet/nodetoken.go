package fleet

import (
	"context"
	"fmt"
	"sync"
)

// NodeToken is the node token as the fleet client holds it (its one
// copy), shared with the fleet's GitHub client: calls made before the
// node registered wait for its first token.
type NodeToken struct {
	mu      sync.Mutex
	tok     string
	changed chan struct{}
}

// NewNodeToken returns an empty token holder.
func NewNodeToken() *NodeToken { return &NodeToken{changed: make(chan struct{})} }

// Set records the current token ("" while the node registers again).
func (t *NodeToken) Set(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok == t.tok {
		return
	}
	t.tok = tok
	close(t.changed)
	t.changed = make(chan struct{})
}

// current is the token now ("" before the node registered).
func (t *NodeToken) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tok
}

// Wait returns the token once there is one, or ctx's error.
func (t *NodeToken) Wait(ctx context.Context) (string, error) {
	for {
		t.mu.Lock()
		tok, ch := t.tok, t.changed
		t.mu.Unlock()
		if tok != "" {
			return tok, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the node to register with the fleet: %w", ctx.Err())
		case <-ch:
		}
	}
}
