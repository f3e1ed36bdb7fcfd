package gitlab

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSystemID(t *testing.T) {
	dir := t.TempDir()
	mid := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(mid, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := SystemID(mid, nil), SystemID(mid, nil)
	if a != b || !systemIDPattern.MatchString(a) || a[:2] != "s_" {
		t.Errorf("machine-derived ids %q %q", a, b)
	}
	r := SystemID(filepath.Join(dir, "missing"), bytes.NewReader([]byte{1, 2, 3, 4, 5, 6}))
	if r != "r_010203040506" {
		t.Errorf("random id = %q", r)
	}

	p := filepath.Join(dir, "cfg", ".runner_system_id")
	id, err := LoadOrCreateSystemID(p)
	if err != nil || !systemIDPattern.MatchString(id) {
		t.Fatalf("create: %q %v", id, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	again, err := LoadOrCreateSystemID(p)
	if err != nil || again != id {
		t.Errorf("reload: %q %v, want %q", again, err, id)
	}
	if err := os.WriteFile(p, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSystemID(p); err == nil {
		t.Error("garbage system id accepted")
	}
}
