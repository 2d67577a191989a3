package breached

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// buildPlain builds a filter of the given passwords into path, through a
// temporary file renamed over it, as a deployment would.
func buildPlain(t *testing.T, path string, passwords ...string) {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	data := ""
	for _, p := range passwords {
		data += p + "\n"
	}
	if err := os.WriteFile(list, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), ".next.rgbf")
	if _, err := Build(context.Background(), tmp, []Input{{Path: list, Format: FormatPlain}}, BuildOptions{FPR: 1e-6}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLiveReloadsReplacedFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "breached.rgbf")
	buildPlain(t, path, "hunter2", "letmein")
	l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Lookup(sha("hunter2")).Found || l.Lookup(sha("Winter2026!")).Found {
		t.Fatal("initial filter wrong")
	}
	buildPlain(t, path, "Winter2026!")
	waitFor(t, "the new filter", func() bool { return l.Lookup(sha("Winter2026!")).Found })
	if l.Lookup(sha("hunter2")).Found {
		t.Error("old entries still answered after the reload")
	}
	if ok, failed := l.Reloads(); ok < 1 || failed != 0 {
		t.Errorf("reloads ok %d failed %d", ok, failed)
	}
	// A broken replacement keeps the current filter.
	if err := os.WriteFile(path+".tmp", []byte("not a filter at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { _, failed := l.Reloads(); return failed >= 1 })
	if !l.Lookup(sha("Winter2026!")).Found {
		t.Error("a bad file replaced the working filter")
	}
}

func TestOpenLiveRefusesBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.rgbf")
	os.WriteFile(path, []byte("garbage"), 0o644)
	if _, err := OpenLive(path, LiveOptions{}); err == nil {
		t.Error("a garbage file was accepted")
	}
}

// TestLiveFilterDeleted: a filter deleted under a running node keeps
// answering as loaded, but is a reload that fails (its gauge 0): a
// restart would fail on it. A new filter in its place clears it.
func TestLiveFilterDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "breached.rgbf")
	buildPlain(t, path, "hunter2")
	l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted filter reported failing", l.ReloadFailing)
	if !l.Lookup(sha("hunter2")).Found {
		t.Error("the loaded filter lost with its file")
	}
	buildPlain(t, path, "Winter2026!")
	waitFor(t, "the new filter", func() bool { return !l.ReloadFailing() && l.Lookup(sha("Winter2026!")).Found })
}
