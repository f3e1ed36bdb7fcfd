package clock

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := Real{}
		start := c.Now()
		if err := Sleep(context.Background(), c, time.Hour); err != nil {
			t.Fatal(err)
		}
		if d := c.Now().Sub(start); d != time.Hour {
			t.Errorf("slept %v, want 1h", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := Sleep(ctx, c, time.Hour); err == nil {
			t.Error("Sleep outlived its context")
		}
		if err := Sleep(context.Background(), Or(nil), 0); err != nil {
			t.Errorf("zero sleep: %v", err)
		}
	})
}

func TestAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		AfterFunc(Real{}, time.Minute, func() { n.Add(1) })
		stop := AfterFunc(Real{}, time.Minute, func() { n.Add(10) })
		time.Sleep(30 * time.Second)
		if !stop() {
			t.Error("stop before the deadline did not prevent the call")
		}
		if stop() {
			t.Error("a second stop reported a prevented call")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := n.Load(); got != 1 {
			t.Errorf("calls %d, want only the unstopped one", got)
		}
	})
}
