package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeAlertsFileReopenFails: a SIGHUP that cannot reopen the alert
// file (its directory was removed) is an error in the log naming the file,
// and counted; a later SIGHUP that can reopen it does.
func TestServeAlertsFileReopenFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "alerts")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.jsonl")
	p := startBinary(t, bin, nil, "--alerts-file", path)
	const (
		sent    = `riskgate_alerts_sent_total{sink="file"}`
		failed  = `riskgate_alert_reopens_total{result="failure",sink="file"}`
		success = `riskgate_alert_reopens_total{result="success",sink="file"}`
	)
	stuff(t, p, "203.0.113.7", 12)
	waitUntil(t, p, "alerts in the file", func() bool { return metric(t, p, sent) > 0 })

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, p, "the failed reopen counted", func() bool { return metric(t, p, failed) == 1 })
	var line string
	for l := range strings.SplitSeq(p.logs(), "\n") {
		if strings.Contains(l, "alert file reopen failed") {
			line = l
		}
	}
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "path="+path) || !strings.Contains(line, "no such file or directory") || !strings.Contains(line, "file open before") {
		t.Errorf("the failed reopen's log line is %q, want an ERROR naming the path, the error and where alerts go:\n%s", line, p.logs())
	}

	// The directory is back: the next SIGHUP reopens the file, and alerts
	// go to it.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, p, "the reopen counted", func() bool { return metric(t, p, success) == 1 })
	stuff(t, p, "203.0.113.8", 12)
	waitUntil(t, p, "alerts in the new file", func() bool {
		data, _ := os.ReadFile(path)
		return bytes.Count(data, []byte("\n")) > 0
	})
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.logs())
	}
}
