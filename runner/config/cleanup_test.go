package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCleanup: [cleanup] timeout and start_hold are whole seconds > 0,
// their defaults when left out; anything else stops the agent naming the
// key.
func TestCleanup(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      string
		want      Cleanup
		errSubstr string // "" = loads
	}{
		{"no table", "", Cleanup{Timeout: DefaultCleanupTimeout, StartHold: DefaultCleanupStartHold}, ""},
		{"empty table", "[cleanup]\n", Cleanup{Timeout: 2 * time.Minute, StartHold: 5 * time.Second}, ""},
		{"both set", "[cleanup]\ntimeout = 300\nstart_hold = 2\n", Cleanup{Timeout: 5 * time.Minute, StartHold: 2 * time.Second}, ""},
		{"one set", "[cleanup]\nstart_hold = 10\n", Cleanup{Timeout: DefaultCleanupTimeout, StartHold: 10 * time.Second}, ""},
		{"zero timeout", "[cleanup]\ntimeout = 0\n", Cleanup{}, "[cleanup] timeout = 0: want seconds > 0"},
		{"negative hold", "[cleanup]\nstart_hold = -5\n", Cleanup{}, "[cleanup] start_hold = -5: want seconds > 0"},
		{"both wrong", "[cleanup]\ntimeout = -1\nstart_hold = 0\n", Cleanup{}, "start_hold = 0"},
		{"a duration string", "[cleanup]\ntimeout = \"2m\"\n", Cleanup{}, "timeout"},
		{"misspelt", "[cleanup]\nstart_hld = 3\n", Cleanup{}, "unknown key cleanup.start_hld (did you mean start_hold?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, "concurrent = 2\n"+tc.body), func(string) (string, bool) { return "", false })
			if tc.errSubstr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("err %v, want ErrInvalid saying %q", err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Cleanup != tc.want {
				t.Errorf("cleanup %+v, want %+v", c.Cleanup, tc.want)
			}
		})
	}
}

// TestCleanupSaved: Save (unregister) keeps [cleanup] as written: the
// key set stays, the one left out stays out.
func TestCleanupSaved(t *testing.T) {
	path := writeFile(t, "concurrent = 1\n[cleanup]\ntimeout = 60\n")
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "start_hold") {
		t.Errorf("Save wrote the key left out:\n%s", b)
	}
	c, err := Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if want := (Cleanup{Timeout: time.Minute, StartHold: DefaultCleanupStartHold}); c.Cleanup != want {
		t.Errorf("after Save: cleanup %+v, want %+v", c.Cleanup, want)
	}
}
