package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// alertIDs are the alert ids of the JSON lines of the file at path (nil
// when there is no file).
func alertIDs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range bytes.Lines(data) {
		var a struct {
			AlertID string `json:"alert_id"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		ids = append(ids, a.AlertID)
	}
	return ids
}

func sendOne(t *testing.T, s *FileSink, id string) {
	t.Helper()
	if _, err := s.Send(context.Background(), []*Alert{{AlertID: id}}); err != nil {
		t.Fatalf("send %s: %v", id, err)
	}
}

// TestFileSinkFollowsItsPath: a file sink whose file was removed,
// renamed or replaced under it, without a SIGHUP, notices it at its next
// check (at most a second later: a fake clock here) and writes to the
// path again, with the mode of the file it had when it creates it; what
// it wrote to a removed file since its last check is copied over (and
// only that: what was there before is gone as the operator meant), so
// that no alert is lost. Between checks, nothing is looked at.
func TestFileSinkFollowsItsPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(t *testing.T, path string)
		// sighup reopens (Reopen) instead of waiting for the check.
		sighup   bool
		wantPath []string // alert ids in the file at the path
		wantOld  []string // in path.1
		reason   string   // "": no reopen
		mode     fs.FileMode
		lines    int // recovered
	}{
		{name: "unchanged", op: func(*testing.T, string) {},
			wantPath: []string{"a0", "a1", "a2", "a3"}, mode: 0o640},
		{name: "removed", op: func(t *testing.T, path string) { must(t, os.Remove(path)) },
			wantPath: []string{"a1", "a2", "a3"}, reason: reopenMissing, mode: 0o640, lines: 2},
		{name: "removed, then SIGHUP", op: func(t *testing.T, path string) { must(t, os.Remove(path)) }, sighup: true,
			wantPath: []string{"a1", "a2", "a3"}, reason: reopenAsked, mode: 0o640, lines: 2},
		{name: "renamed", op: func(t *testing.T, path string) { must(t, os.Rename(path, path+".1")) },
			wantPath: []string{"a3"}, wantOld: []string{"a0", "a1", "a2"}, reason: reopenMissing, mode: 0o640},
		{name: "renamed and created again (logrotate's create)", op: func(t *testing.T, path string) {
			must(t, os.Rename(path, path+".1"))
			must(t, os.WriteFile(path, nil, 0o600))
			must(t, os.Chmod(path, 0o600))
		}, wantPath: []string{"a3"}, wantOld: []string{"a0", "a1", "a2"}, reason: reopenReplaced, mode: 0o600},
		{name: "replaced by another file", op: func(t *testing.T, path string) {
			must(t, os.WriteFile(path+".new", []byte(`{"alert_id":"x0"}`+"\n"), 0o644))
			must(t, os.Chmod(path+".new", 0o644))
			must(t, os.Rename(path+".new", path))
		}, wantPath: []string{"x0", "a1", "a2", "a3"}, reason: reopenReplaced, mode: 0o644, lines: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerts.jsonl")
			s, err := OpenFileSink(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			must(t, os.Chmod(path, 0o640))
			clock := time.Now()
			s.now, s.checked = func() time.Time { return clock }, clock
			var reports []reopenReport
			s.reportTo(func(r reopenReport) { reports = append(reports, r) })

			sendOne(t, s, "a0")
			clock = clock.Add(pathCheck)
			sendOne(t, s, "a1") // after a check: lines from here on are copied from a removed file
			tc.op(t, path)
			clock = clock.Add(pathCheck / 2)
			sendOne(t, s, "a2") // within the second: not checked
			if len(reports) != 0 {
				t.Fatalf("checked the path within %s: %+v", pathCheck, reports)
			}
			if tc.sighup {
				if err := s.Reopen(); err != nil {
					t.Fatal(err)
				}
			} else {
				clock = clock.Add(pathCheck)
			}
			sendOne(t, s, "a3")

			if got := alertIDs(t, path); !slices.Equal(got, tc.wantPath) {
				t.Errorf("%s holds %v, want %v", path, got, tc.wantPath)
			}
			if got := alertIDs(t, path+".1"); !slices.Equal(got, tc.wantOld) {
				t.Errorf("%s.1 holds %v, want %v", path, got, tc.wantOld)
			}
			if fi, err := os.Stat(path); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != tc.mode {
				t.Errorf("mode of %s: %v, want %v", path, fi.Mode().Perm(), tc.mode)
			}
			switch {
			case tc.reason == "" && len(reports) > 0:
				t.Errorf("reopened: %+v", reports)
			case tc.reason != "" && (len(reports) != 1 || reports[0].reason != tc.reason || reports[0].err != nil ||
				reports[0].lost != nil || reports[0].recovered != tc.lines || reports[0].path != path):
				t.Errorf("reports %+v, want one reopen of %s (%s), %d lines recovered", reports, path, tc.reason, tc.lines)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFileSinkDirectoryGone: the alert file's directory removed, without
// a SIGHUP, the sink's writes fail (counted as its failures, retried, an
// error naming the file logged once) rather than go to the removed file;
// once the directory is back the file is created again, and every alert
// is in it, the one written to the removed file included.
func TestFileSinkDirectoryGone(t *testing.T) {
	for _, sighup := range []bool{false, true} {
		name := "no signal"
		if sighup {
			name = "SIGHUP"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "alerts")
			must(t, os.Mkdir(dir, 0o755))
			path := filepath.Join(dir, "a.jsonl")
			file, err := OpenFileSink(path)
			if err != nil {
				t.Fatal(err)
			}
			// Each look at the clock is a second later: every write
			// checks the path.
			var tick atomic.Int64
			base := time.Now()
			file.now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * pathCheck) }
			var logs syncbuf.Buffer
			d, reg := newDispatcher(t, Options{Sinks: []SinkConfig{{Sink: file}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			m := d.queues[0].m
			d.Publish(&Alert{AlertID: "a1"})
			waitFor(t, func() bool { return testutil.ToFloat64(m.sent) == 1 })

			must(t, os.RemoveAll(dir))
			if sighup {
				if err := d.Reopen(); err == nil || !strings.Contains(err.Error(), path) {
					t.Fatalf("Reopen = %v, want the path's error", err)
				}
			}
			d.Publish(&Alert{AlertID: "a2"})
			waitFor(t, func() bool { return testutil.ToFloat64(m.errors) >= 2 })
			if got := testutil.ToFloat64(m.sent); got != 1 {
				t.Fatalf("sent %v with the directory gone, want 1", got)
			}
			if got := testutil.ToFloat64(m.reopenFailed); got != 1 {
				t.Errorf("reopens{result=failure} = %v, want 1 (once until the file can be created)", got)
			}
			if n := strings.Count(logs.String(), `level=ERROR msg="alert file reopen failed" sink=file path=`+path); n != 1 {
				t.Errorf("%d errors naming the file, want 1:\n%s", n, logs.String())
			}

			must(t, os.Mkdir(dir, 0o755))
			waitFor(t, func() bool { return testutil.ToFloat64(m.sent) == 2 })
			if err := closeWithin(t, d, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := alertIDs(t, path); !slices.Equal(got, []string{"a1", "a2"}) {
				t.Errorf("the new file holds %v, want a1 (copied from the removed file) and a2", got)
			}
			if got := testutil.ToFloat64(m.reopened); got != 1 {
				t.Errorf("reopens{result=success} = %v, want 1", got)
			}
			if !strings.Contains(logs.String(), `level=INFO msg="alert file reopened" sink=file path=`+path+" reason=missing recovered_lines=1") {
				t.Errorf("no line of the reopen, with the line recovered:\n%s", logs.String())
			}
			// Only sinks that reopen a file have the counter.
			if n, err := testutil.GatherAndCount(reg, "riskgate_alert_reopens_total"); err != nil || n != 2 {
				t.Errorf("riskgate_alert_reopens_total has %d series (%v), want 2", n, err)
			}
		})
	}
}
