package gitlab

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var systemIDPattern = regexp.MustCompile(`^[sr]_[0-9a-f]{12}$`)

// SystemID derives a runner manager's system_id: "s_" and 12 hex digits of
// a hash of the machine id (as gitlab-runner does), or "r_" and 12 random
// hex digits when the machine has no id.
func SystemID(machineIDPath string, random io.Reader) string {
	if b, err := os.ReadFile(machineIDPath); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			sum := sha256.Sum256([]byte(id))
			return "s_" + hex.EncodeToString(sum[:])[:12]
		}
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(random, buf); err != nil {
		// crypto/rand does not fail on Linux; keep the id well-formed anyway.
		return "r_000000000000"
	}
	return "r_" + hex.EncodeToString(buf)
}

// LoadOrCreateSystemID reads the system_id persisted at path, or derives
// one and writes it there (mode 0600) so the runner manager keeps its
// identity across restarts.
func LoadOrCreateSystemID(path string) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if !systemIDPattern.MatchString(id) {
			return "", fmt.Errorf("system id file %s holds %q, not s_/r_ and 12 hex digits", path, id)
		}
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read system id: %w", err)
	}
	id := SystemID("/etc/machine-id", rand.Reader)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("write system id: %w", err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write system id: %w", err)
	}
	return id, nil
}
