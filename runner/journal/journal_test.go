package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

func TestRecordPendingDone(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		record  []Entry
		done    []Entry
		want    []string // job ids pending, oldest first
		wantErr string   // from Record
	}{
		{name: "one job", record: []Entry{{Platform: PlatformGitLab, JobID: "5000000001", JobToken: "glcbt-x", Started: t0}}, want: []string{"5000000001"}},
		{name: "done jobs go", record: []Entry{
			{Platform: PlatformGitLab, JobID: "1", Started: t0},
			{Platform: PlatformGitLab, JobID: "2", Started: t0.Add(time.Second)},
		}, done: []Entry{{Platform: PlatformGitLab, JobID: "1"}}, want: []string{"2"}},
		{name: "oldest first", record: []Entry{
			{Platform: PlatformGitHub, JobID: "runner-b", Started: t0.Add(time.Minute)},
			{Platform: PlatformGitLab, JobID: "9", Started: t0},
		}, want: []string{"9", "runner-b"}},
		{name: "rewrite replaces", record: []Entry{
			{Platform: PlatformGitLab, JobID: "7", Node: "a", Started: t0},
			{Platform: PlatformGitLab, JobID: "7", Node: "b", Started: t0},
		}, want: []string{"7"}},
		{name: "done twice is fine", record: []Entry{{Platform: PlatformGitLab, JobID: "3"}},
			done: []Entry{{Platform: PlatformGitLab, JobID: "3"}, {Platform: PlatformGitLab, JobID: "3"}}},
		{name: "no path tricks", record: []Entry{{Platform: PlatformGitLab, JobID: "../../etc/x"}}, wantErr: "bad record name"},
		{name: "needs a job id", record: []Entry{{Platform: PlatformGitLab}}, wantErr: "needs a platform and a job id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "journal")
			j, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.record {
				err := j.Record(e)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("Record(%+v) = %v, want %q", e, err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, e := range tc.done {
				if err := j.Done(e); err != nil {
					t.Fatalf("Done: %v", err)
				}
			}
			// A restarted agent opens the same directory.
			j2, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := j2.Pending()
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.JobID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("pending %v, want %v", ids, tc.want)
			}
			if tc.name == "rewrite replaces" && got[0].Node != "b" {
				t.Errorf("rewritten record holds %+v", got[0])
			}
			if tc.name == "one job" && got[0].JobToken != "glcbt-x" {
				t.Errorf("record lost the job token: %+v", got[0])
			}
			checkModes(t, dir)
		})
	}
}

// checkModes: the directory is 0700, every file 0600, no temp file left.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("journal directory mode %v, want 0700", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestPendingSkipsGarbage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Record(Entry{Platform: PlatformGitLab, JobID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gitlab-2.json"), []byte("{trunc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-3.json.tmp-99"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := j.Pending()
	if err == nil || len(got) != 1 || got[0].JobID != "1" {
		t.Fatalf("Pending = %+v, %v; want job 1 and an error naming the bad record", got, err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitlab-3.json.tmp-99")); !os.IsNotExist(err) {
		t.Errorf("Open left an interrupted write's temp file: %v", err)
	}
}

func TestSpool(t *testing.T) {
	t.Parallel()
	j, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Platform: PlatformGitLab, JobID: "42"}
	if b, err := j.SpoolBytes(e); err != nil || len(b) != 0 {
		t.Fatalf("no spool yet: %q, %v", b, err)
	}
	f, err := j.Spool(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"line 1\n", "line 2\n"} {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := j.SpoolBytes(e); err != nil || string(b) != "line 1\nline 2\n" {
		t.Fatalf("spool %q, %v", b, err)
	}
	f.Close()
	if err := j.Done(e); err != nil {
		t.Fatal(err)
	}
	if b, err := j.SpoolBytes(e); err != nil || len(b) != 0 {
		t.Fatalf("spool after Done: %q, %v", b, err)
	}
}

// fixedClock is a clock that always reads t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                       { return c.t }
func (c fixedClock) NewTimer(d time.Duration) clock.Timer { return clock.Real{}.NewTimer(d) }

// TestRecordStampsFromItsClock: a record without Started is stamped from
// the journal's clock; a given Started is kept.
func TestRecordStampsFromItsClock(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	given := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		started time.Time
		want    time.Time
	}{
		{"zero is stamped", time.Time{}, at.UTC()},
		{"given is kept", given, given},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j, err := Open(filepath.Join(t.TempDir(), "journal"), WithClock(fixedClock{at}))
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Record(Entry{Platform: PlatformGitLab, JobID: "1", Started: tc.started}); err != nil {
				t.Fatal(err)
			}
			got, err := j.Pending()
			if err != nil || len(got) != 1 {
				t.Fatalf("Pending = %v, %v", got, err)
			}
			if !got[0].Started.Equal(tc.want) {
				t.Errorf("Started = %s, want %s", got[0].Started, tc.want)
			}
		})
	}
}
