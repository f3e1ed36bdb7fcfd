package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

// The agent rewrites its config in two cases: a rotated runner token, and
// runners removed by unregister or verify --delete. Both go through the
// file's full TOML tree, not through File, so that every key is kept with
// its value and type — gitlab-runner's settings runfleet only warns about
// included. Comments and key order are not kept.

// ErrRunnerNotFound means no [[runners]] entry has the token asked for.
var ErrRunnerNotFound = errors.New("the runner is no longer in the config file")

// SetRunnerToken replaces the token of the [[runners]] entries holding old,
// with when it was obtained and when it expires (zero: never, written as
// gitlab-runner writes it).
func SetRunnerToken(path, old, token string, obtained, expires time.Time) error {
	return rewriteRunners(path, func(rf RunnerFile, raw map[string]any) (bool, bool) {
		if rf.Token != old {
			return true, false
		}
		setKey(raw, "token", token)
		setKey(raw, "token_obtained_at", obtained.UTC().Truncate(time.Second))
		setKey(raw, "token_expires_at", expires.UTC().Truncate(time.Second))
		return true, true
	})
}

// RemoveRunners drops the [[runners]] entries for which drop is true and
// says how many it dropped.
func RemoveRunners(path string, drop func(RunnerFile) bool) (int, error) {
	n := 0
	err := rewriteRunners(path, func(rf RunnerFile, _ map[string]any) (bool, bool) {
		if drop(rf) {
			n++
			return false, true
		}
		return true, false
	})
	if errors.Is(err, ErrRunnerNotFound) {
		return 0, nil
	}
	return n, err
}

// rewriteRunners passes each [[runners]] entry, decoded and as its raw
// table, to edit, which says whether to keep it and whether it changed
// anything. The file is written (atomically, 0600) when something changed;
// ErrRunnerNotFound when nothing did.
func rewriteRunners(path string, edit func(rf RunnerFile, raw map[string]any) (keep, changed bool)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	key := canonicalRawKey(raw, "runners")
	tables, _ := raw[key].([]map[string]any)
	if len(tables) != len(f.Runners) {
		return fmt.Errorf("config %s: %d [[runners]] tables but %d runners decoded", path, len(tables), len(f.Runners))
	}
	var kept []map[string]any
	changed := false
	for i, t := range tables {
		keep, ch := edit(f.Runners[i], t)
		changed = changed || ch
		if keep {
			kept = append(kept, t)
		}
	}
	if !changed {
		return ErrRunnerNotFound
	}
	if len(kept) == 0 {
		delete(raw, key)
	} else {
		raw[key] = kept
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return writeAtomic(path, buf.Bytes())
}

// setKey sets key in a raw table, replacing a spelling that differs only
// in case.
func setKey(t map[string]any, key string, v any) {
	t[canonicalRawKey(t, key)] = v
}

// canonicalRawKey is t's spelling of key, or key when t lacks it.
func canonicalRawKey(t map[string]any, key string) string {
	if k := canonicalKey(t, key); k != "" {
		return k
	}
	return key
}
