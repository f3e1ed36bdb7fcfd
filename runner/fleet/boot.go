package fleet

import (
	"context"
	"os"
	"strings"
	"time"
)

// BootIDFile holds the kernel's random id of the current boot; it changes
// every time the machine starts.
const BootIDFile = "/proc/sys/kernel/random/boot_id"

// bootFile is where the boot a node token was issued in is kept.
func (c *Client) bootFile() string { return c.o.NodeTokenFile + ".boot" }

func (c *Client) bootID() string {
	read := c.o.BootID
	if read == nil {
		read = func() (string, error) {
			b, err := os.ReadFile(BootIDFile)
			return string(b), err
		}
	}
	id, err := read()
	if err != nil {
		c.log.Warn("reading the boot id: a stored node token is kept", "err", err)
		return ""
	}
	return strings.TrimSpace(id)
}

// storedToken is the node token kept from this boot. A token kept from an
// earlier boot — the machine was stopped and started again, as a warm
// pool's instances are — is dropped with its files: the node registers
// fresh after every start and never reuses an identity from before it
// stopped.
func (c *Client) storedToken() string {
	b, err := os.ReadFile(c.o.NodeTokenFile)
	if err != nil {
		return ""
	}
	tok := strings.TrimSpace(string(b))
	now := c.bootID()
	kept, err := os.ReadFile(c.bootFile())
	if now == "" || err == nil && strings.TrimSpace(string(kept)) == now {
		return tok
	}
	c.log.Info("node token from an earlier boot (the machine was stopped and started): registering fresh")
	for _, f := range []string{c.o.NodeTokenFile, c.bootFile()} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			c.log.Warn("removing a node token from an earlier boot", "file", f, "err", err)
		}
	}
	return ""
}

// saveBoot records the boot a fresh node token was issued in (0600).
func (c *Client) saveBoot() {
	id := c.bootID()
	if id == "" {
		return
	}
	if err := os.WriteFile(c.bootFile(), []byte(id+"\n"), 0o600); err != nil {
		c.log.Warn("recording the boot of the node token", "err", err)
	}
}

// LifecycleSource is implemented by identity sources that know the
// instance's Auto Scaling lifecycle state (EC2Identity).
type LifecycleSource interface {
	LifecycleState(ctx context.Context) (string, error)
}

// warmPoll is how often a node waiting in a warm pool looks again.
const warmPoll = 5 * time.Second

// warming reports whether the instance is preparing in, or waiting in,
// an Auto Scaling warm pool: it must not join the fleet until it is
// started into service (it registers then, fresh).
func (c *Client) warming(ctx context.Context) bool {
	ls, ok := c.o.Identity.(LifecycleSource)
	if !ok {
		return false
	}
	st, err := ls.LifecycleState(ctx)
	if err != nil {
		c.log.Warn("reading the Auto Scaling lifecycle state: registering anyway", "err", err)
		return false
	}
	if strings.HasPrefix(st, "Warmed:") {
		c.log.Info("in the warm pool: joining the fleet once started into service", "lifecycle", st)
		return true
	}
	return false
}
