package main

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// TestServeThinsTheAlertLog runs the real binary with alerts going to the
// log (no sink) and a stuffing burst over HTTP, every attempt of which
// alerts once the burst is recognised: at most --alerts-log-rate alert
// lines a second are written, and the summary lines count the rest, so
// that lines and summaries together account for every alert.
func TestServeThinsTheAlertLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	p := startBinary(t, bin, nil, "--no-rules-watch", "--alerts-log-rate", "3")
	alerting := 0
	for i := range 80 {
		a := engine.Attempt{
			Username: fmt.Sprintf("victim%d@example.com", i), IP: "203.0.113.9",
			UserAgent: "python-requests/2.31", Result: engine.ResultPasswordBad,
		}
		var d engine.Decision
		postJSON(t, "http://"+p.http+"/v1/score", a, &d)
		if alerts(&d) {
			alerting++
		}
	}
	if alerting < 60 {
		t.Fatalf("%d of 80 stuffing attempts alerted: the test checks too little", alerting)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.logs())
	}
	logs := p.logs()
	lines := len(regexp.MustCompile(`msg=alert `).FindAllString(logs, -1))
	thinned := 0
	for _, m := range regexp.MustCompile(`msg="alerts thinned from the log" .*?thinned=(\d+) .*rules="[^"]*stuffing-address-burst=\d+`).FindAllStringSubmatch(logs, -1) {
		n, _ := strconv.Atoi(m[1])
		thinned += n
	}
	// 80 Scores take well under a second or two here; a slow machine
	// that took longer would log 3 more a second, still far from 80.
	if lines < 3 || lines > 30 {
		t.Errorf("%d alert lines for %d alerts at 3 a second", lines, alerting)
	}
	if lines+thinned != alerting {
		t.Errorf("%d alert lines + %d counted in summaries, want %d alerts:\n%s", lines, thinned, alerting, logs)
	}
}
