package node

import (
	"context"
	"crypto/sha1"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBreachedPollHonoured: the breached-password filter's watch polls at
// --breached-poll. The filter is a symbolic link into another folder, and
// the file it points to is replaced there: the watch's notifications
// (for the link's folder) never see it, only a stat does. The watch
// polled every minute whatever it was told, so a poll of 20ms waited a
// minute for that change.
func TestBreachedPollHonoured(t *testing.T) {
	dir := t.TempDir()
	real, conf := filepath.Join(dir, "real"), filepath.Join(dir, "conf")
	for _, d := range []string{real, conf} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(real, "pwned.rgbf")
	if err := os.WriteFile(target, buildFilter(t, "hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(conf, "pwned.rgbf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, BreachedPoll: 20 * time.Millisecond}
	cfg.Breached, cfg.NoBuiltinBreached = link, true
	n, err := New(context.Background(), cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	serveWithSIGHUP(t, n)
	breach := func(pw string) bool { h := sha1.Sum([]byte(pw)); found, _ := n.breach(&h); return found }
	if !breach("hunter2") {
		t.Fatal("the filter loaded does not hold hunter2")
	}

	// Replaced as updaters do: written beside, renamed over.
	tmp := filepath.Join(real, ".pwned.rgbf.tmp")
	if err := os.WriteFile(tmp, buildFilter(t, "letmein\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !breach("letmein") || breach("hunter2"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replaced filter was not polled: letmein not found after 20s of a 20ms poll")
		}
	}
}
