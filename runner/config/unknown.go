package config

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Warning is one gitlab-runner setting the file holds that runfleet does
// not implement, with what runfleet does instead.
type Warning struct {
	Key     string // e.g. runners.docker.tls_verify
	Message string
}

// LogWarnings logs one line per warning.
func LogWarnings(l *slog.Logger, ws []Warning) {
	for _, w := range ws {
		l.Warn("gitlab-runner setting not implemented", "key", w.Key, "runfleet", w.Message)
	}
}

// UnknownKeyError is a key that is neither runfleet's nor gitlab-runner's.
type UnknownKeyError struct {
	Key        string
	Suggestion string // the closest known key, or ""
}

func (e *UnknownKeyError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown key %s (did you mean %s?)", e.Key, e.Suggestion)
	}
	return "unknown key " + e.Key
}

// classify sorts the keys the decoder did not use into warnings
// (gitlab-runner's keys) and errors (anything else). A key is reported
// once however many [[runners]] entries hold it.
func classify(undecoded []toml.Key, raw map[string]any) ([]Warning, error) {
	var warns []Warning
	var errs []error
	seen := map[string]bool{}
	// Keys under a table that was itself undecoded and warned (or refused)
	// as a whole are not reported again.
	covered := map[string]bool{}
	for _, k := range undecoded {
		path := []string(k)
		name := strings.Join(path, ".")
		if seen[strings.ToLower(name)] || coveredBy(covered, path) {
			continue
		}
		seen[strings.ToLower(name)] = true
		parent, key := strings.Join(path[:len(path)-1], "."), path[len(path)-1]
		t, known := lookupTable(parent)
		switch {
		case known && t.opaque:
			// free-form: nothing to check
		case known && t.child != nil:
			warns = append(warns, Warning{Key: name, Message: t.child(key)})
		case known && hasKey(t.keys, key):
			note := t.keys[canonicalKey(t.keys, key)]
			if sub, ok := lookupTable(joinKey(parent, key)); ok && sub.note != "" {
				note = sub.note
			}
			if note != "" && !zeroEverywhere(raw, path) {
				warns = append(warns, Warning{Key: name, Message: note})
			}
			if sub, ok := lookupTable(joinKey(parent, key)); ok && (sub.note != "" || sub.opaque) {
				covered[strings.ToLower(name)] = true
			}
		case known && t.note != "":
			// a key of a table warned as a whole that gitlab-runner does not know
			errs = append(errs, &UnknownKeyError{Key: name, Suggestion: suggest(key, candidates(parent, t))})
		default:
			errs = append(errs, &UnknownKeyError{Key: name, Suggestion: suggest(key, candidates(parent, t))})
			covered[strings.ToLower(name)] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return warns, err
	}
	return warns, nil
}

func coveredBy(covered map[string]bool, path []string) bool {
	for i := 1; i < len(path); i++ {
		if covered[strings.ToLower(strings.Join(path[:i], "."))] {
			return true
		}
	}
	return false
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func lookupTable(path string) (glTable, bool) {
	for k, t := range gitlabTables {
		if equalFold(k, path) {
			return t, true
		}
	}
	return glTable{}, false
}

func hasKey(m map[string]string, key string) bool { return canonicalKey(m, key) != "" }

// canonicalKey returns m's key equal to key ignoring case, or "".
func canonicalKey[V any](m map[string]V, key string) string {
	if _, ok := m[key]; ok {
		return key
	}
	for k := range m {
		if equalFold(k, key) {
			return k
		}
	}
	return ""
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// candidates are the keys a misspelt key of table parent may have meant:
// runfleet's own keys there and gitlab-runner's.
func candidates(parent string, t glTable) []string {
	var out []string
	for k := range t.keys {
		out = append(out, k)
	}
	var segs []string
	if parent != "" {
		segs = strings.Split(parent, ".")
	}
	return append(out, fileKeys(reflect.TypeFor[File](), segs)...)
}

// fileKeys lists the TOML keys of the runfleet table at path in type t.
func fileKeys(t reflect.Type, path []string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, fileKeys(f.Type, path)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if len(path) > 0 {
			if equalFold(name, path[0]) {
				return fileKeys(f.Type, path[1:])
			}
			continue
		}
		keys = append(keys, name)
	}
	if len(path) > 0 {
		return nil
	}
	return keys
}

// suggest returns the candidate closest to key by edit distance, when it
// is close enough to be a likely typo.
func suggest(key string, cands []string) string {
	best, bestD := "", len(key)/2+2
	for _, c := range cands {
		if d := editDistance(strings.ToLower(key), strings.ToLower(c)); d < bestD || (d == bestD && c < best && best != "") {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// zeroEverywhere reports whether the key at path holds its zero value
// (false, 0, "", an empty array or table) wherever it occurs in raw: such
// a key changes nothing and needs no warning.
func zeroEverywhere(raw any, path []string) bool {
	switch v := raw.(type) {
	case []map[string]any:
		for _, e := range v {
			if !zeroEverywhere(e, path) {
				return false
			}
		}
		return true
	case []any:
		if len(path) == 0 {
			return len(v) == 0
		}
		for _, e := range v {
			if !zeroEverywhere(e, path) {
				return false
			}
		}
		return true
	case map[string]any:
		if len(path) == 0 {
			return len(v) == 0
		}
		for k, e := range v {
			if equalFold(k, path[0]) && !zeroEverywhere(e, path[1:]) {
				return false
			}
		}
		return true
	}
	if len(path) > 0 {
		return true // not here
	}
	switch v := raw.(type) {
	case bool:
		return !v
	case int64:
		return v == 0
	case float64:
		return v == 0
	case string:
		return v == ""
	}
	return false
}
