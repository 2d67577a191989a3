package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWithin: what outlives the shutdown timeout is left behind with an
// error naming it; what finishes in time returns its own result.
func TestWithin(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		f    func() error
		want string
	}{
		{"stuck", func() error { <-stuck; return nil }, "geoip: not done within the shutdown timeout"},
		{"fails", func() error { return boom }, "boom"},
		{"done", func() error { return nil }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := within(ctx, "geoip", tc.f)
			if time.Since(start) > 5*time.Second {
				t.Fatal("within waited past its deadline")
			}
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
