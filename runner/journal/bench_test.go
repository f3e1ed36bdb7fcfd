package journal

import (
	"strconv"
	"testing"
)

// BenchmarkRecordDone is the journal's cost on a job's start and end: one
// durable record (fsync, rename, directory fsync) and its removal.
func BenchmarkRecordDone(b *testing.B) {
	j, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		e := Entry{Platform: PlatformGitLab, JobID: strconv.Itoa(i), JobToken: "glcbt-xxxxxxxxxxxxxxxx"}
		if err := j.Record(e); err != nil {
			b.Fatal(err)
		}
		if err := j.Done(e); err != nil {
			b.Fatal(err)
		}
	}
}
