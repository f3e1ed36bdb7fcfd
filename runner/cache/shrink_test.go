package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"
)

func TestShrinkEvictsOldestHalf(t *testing.T) {
	clock := newFakeClock()
	s, err := NewLocalStore(t.TempDir(), 0, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		if err := s.Put(ctx, Key{Project: "g/p", Name: fmt.Sprint(i)}, bytes.NewReader(zipOf(t, "same size"))); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	if freed := s.Shrink(ctx); freed <= 0 {
		t.Fatalf("freed %d bytes", freed)
	}
	for i, want := range []bool{false, false, true, true} {
		_, _, err := s.Get(ctx, Key{Project: "g/p", Name: fmt.Sprint(i)})
		if got := err == nil; got != want {
			t.Errorf("entry %d present=%v, want %v (%v)", i, got, want, err)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("entry %d: %v", i, err)
		}
	}
}
