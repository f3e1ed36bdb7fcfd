package gitlab

import (
	"crypto/hmac"
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

// DefaultMachineIDPath is systemd's machine ID file.
const DefaultMachineIDPath = "/etc/machine-id"

// SystemIDFile is the file name, next to the runner's config, that keeps
// the system ID across restarts.
const SystemIDFile = ".runner_system_id"

// systemIDAppKey keys the hash of the machine ID, so the raw machine ID never
// leaves the machine (systemd's advice for application-specific IDs).
const systemIDAppKey = "runfleet"

var systemIDPattern = regexp.MustCompile(`^[sr]_[0-9a-zA-Z]{12}$`)

// SystemID identifies this machine as a runner manager: "s_" and 12 hex
// characters of an HMAC-SHA256 of the machine ID read from machineIDPath,
// or, without a usable machine ID, "r_" and 12 hex characters read from rnd
// (crypto/rand when nil).
func SystemID(machineIDPath string, rnd io.Reader) string {
	if b, err := os.ReadFile(machineIDPath); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			mac := hmac.New(sha256.New, []byte(id))
			mac.Write([]byte(systemIDAppKey))
			return "s_" + hex.EncodeToString(mac.Sum(nil))[:12]
		}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [6]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		_, _ = rand.Read(b[:]) // crypto/rand never fails
	}
	return "r_" + hex.EncodeToString(b[:])
}

// SystemIDPath is the system ID file that belongs to a config file.
func SystemIDPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), SystemIDFile)
}

// LoadOrCreateSystemID returns the system ID stored at path, or, when the
// file does not exist, derives one (see SystemID) and stores it there with
// mode 0600 (creating the directory). A file with anything but a system ID
// in it is an error: the runner manager's identity is not silently changed.
func LoadOrCreateSystemID(path string) (string, error) {
	return loadOrCreateSystemID(path, DefaultMachineIDPath, nil)
}

func loadOrCreateSystemID(path, machineIDPath string, rnd io.Reader) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if !systemIDPattern.MatchString(id) {
			return "", fmt.Errorf("gitlab: %s does not hold a system ID (s_ or r_ and 12 characters)", path)
		}
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("gitlab: reading system ID: %w", err)
	}
	id := SystemID(machineIDPath, rnd)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("gitlab: storing system ID: %w", err)
	}
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("gitlab: storing system ID: %w", err)
	}
	return id, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
