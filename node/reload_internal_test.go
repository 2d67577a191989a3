package node

import (
	"context"
	"errors"
	"log/slog"
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

// TestReloadDataNamesEachPartOnce: a part's error that already names the
// part is not prefixed again ("iplist: iplist: corp list: …").
func TestReloadDataNamesEachPartOnce(t *testing.T) {
	n := &Node{log: slog.New(slog.DiscardHandler), dataFiles: []dataFiles{
		{"iplist", func() error { return errors.New("iplist: corp list: line 3: bad prefix") }},
		{"geoip", func() error { return errors.New("open city.mmdb: no such file") }},
	}}
	err := n.reloadData()
	want := "iplist: corp list: line 3: bad prefix\ngeoip: open city.mmdb: no such file"
	if err == nil || err.Error() != want {
		t.Errorf("reloadData: %q, want %q", err, want)
	}
}
