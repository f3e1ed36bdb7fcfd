package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// FileMode is the mode of config files: they hold runner tokens.
const FileMode = 0o600

// AppendRunner adds a [[runners]] entry to the config at path, creating the
// file (with global defaults) when it does not exist. Existing text,
// comments included, is kept byte for byte; the file is replaced
// atomically and is left with mode 0600.
func AppendRunner(path string, r RunnerFile) error {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return fmt.Errorf("read config: %w", err)
	default:
		if _, err := Read(path); err != nil {
			return fmt.Errorf("refusing to append to a config that does not parse: %w", err)
		}
	}
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) == 0 {
		fmt.Fprintf(&buf, "concurrent = %d\ncheck_interval = %d\nshutdown_timeout = %d\n",
			DefaultConcurrent, int(DefaultCheckInterval.Seconds()), int(DefaultShutdownTimeout.Seconds()))
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')
	if err := toml.NewEncoder(&buf).Encode(struct {
		Runners []RunnerFile `toml:"runners"`
	}{[]RunnerFile{r}}); err != nil {
		return fmt.Errorf("encode runner: %w", err)
	}
	return writeAtomic(path, buf.Bytes())
}

// Save rewrites the whole config file (used by unregister). Comments are
// not preserved.
func Save(path string, f File) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return writeAtomic(path, buf.Bytes())
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.toml")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(FileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod config: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace config: %w", err)
	}
	return nil
}
