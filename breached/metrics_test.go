package breached

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBuildTimestamps: riskgate_breached_filter_build_timestamp_seconds
// gives the bundled list's and each file's build time, follows a file
// rebuilt and reloaded, and keeps the filter in use when a replacement is
// refused; riskgate_breached_last_reload_success is 0 while it is, and 1
// again once a good filter is loaded.
func TestBuildTimestamps(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "hibp.txt")
	writeHIBP(t, in, []entry{{sum: sha("Winter2026!"), count: 200}})
	path := filepath.Join(dir, "pwned.rgbf")
	buildAt := func(at time.Time) {
		t.Helper()
		tmp := filepath.Join(dir, "next.rgbf")
		if _, err := Build(t.Context(), tmp, []Input{{Path: in}}, BuildOptions{BuildTime: at}); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	first := time.Date(2025, 11, 3, 12, 0, 0, 0, time.UTC)
	buildAt(first)
	s, err := OpenSet(SetOptions{Files: []string{path, path}, Live: LiveOptions{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	builtin, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	want := func(file time.Time, success int) {
		t.Helper()
		exp := fmt.Sprintf(`
# HELP riskgate_breached_filter_build_timestamp_seconds When each breached-password filter in use was built (riskgate breached build): kind bundled, the list of common passwords built into riskgate (filter builtin), or file (--breached, filter its path).
# TYPE riskgate_breached_filter_build_timestamp_seconds gauge
riskgate_breached_filter_build_timestamp_seconds{filter="builtin",kind="bundled"} %[1]d
riskgate_breached_filter_build_timestamp_seconds{filter=%[2]q,kind="file"} %[3]d
# HELP riskgate_breached_last_reload_success 1 while each breached-password filter file (--breached) is in use as last read (at start, or its last reload succeeded), 0 while its last reload failed (the file deleted too) and none succeeded since: the filter loaded before answers.
# TYPE riskgate_breached_last_reload_success gauge
riskgate_breached_last_reload_success{filter=%[2]q} %[4]d
`, builtin.Info().Built.Unix(), path, file.Unix(), success)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "riskgate_breached_filter_build_timestamp_seconds", "riskgate_breached_last_reload_success"); err != nil {
			t.Error(err)
		}
	}
	if builtin.Info().Built.Unix() <= 0 {
		t.Fatal("the bundled list gives no build time")
	}
	want(first, 1)

	second := first.AddDate(0, 4, 0)
	buildAt(second)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	want(second, 1)

	if err := os.WriteFile(path, []byte("not a filter"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("a garbage filter reloaded")
	}
	want(second, 0)

	third := second.AddDate(0, 1, 0)
	buildAt(third)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	want(third, 1)
}

// TestBuildTimestampsFileNamedBuiltin: a filter file named "builtin" has
// a series of its own beside the bundled list's.
func TestBuildTimestampsFileNamedBuiltin(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeHIBP(t, "hibp.txt", []entry{{sum: sha("Winter2026!"), count: 200}})
	at := time.Date(2025, 11, 3, 12, 0, 0, 0, time.UTC)
	if _, err := Build(t.Context(), "builtin", []Input{{Path: "hibp.txt"}}, BuildOptions{BuildTime: at}); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSet(SetOptions{Files: []string{"builtin"}, Live: LiveOptions{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := testutil.CollectAndCount(filters{s}, "riskgate_breached_filter_build_timestamp_seconds"); n != 2 {
		t.Errorf("%d series, want the bundled list's and the file's", n)
	}
}
