package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// stuff scores n failed logins for n usernames from one address: from the
// tenth on, credential stuffing, which alerts (README, "Streams and
// alerts").
func stuff(t *testing.T, p *process, ip string, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"tenant":"acme","username":"user%d@example.com","ip":%q,"result":"no_such_user"}`, i, ip)
		resp, err := http.Post("http://"+p.http+"/v1/score", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("score: %v\n%s", err, p.logs())
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("score: %d\n%s", resp.StatusCode, p.logs())
		}
	}
}

// TestServeAlertsStdoutClosed: serve with --alerts-file - whose reader
// went away (riskgate serve --alerts-file - | head -c 300) goes on
// serving; the alerts it cannot write are failed deliveries, counted and
// logged, not a SIGPIPE that kills the process.
func TestServeAlertsStdoutClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startBinaryStdout(t, bin, nil, w, "--alerts-file", "-", "--shutdown-timeout", "1s")
	// The reader exits: nothing holds the pipe's read end any more.
	w.Close()
	r.Close()

	stuff(t, p, "203.0.113.7", 12)
	const failed = `riskgate_alert_send_errors_total{sink="stdout"}`
	waitUntil(t, p, "a failed write to standard output, counted", func() bool { return metric(t, p, failed) > 0 })
	// Still serving, and more alerts change nothing.
	stuff(t, p, "203.0.113.8", 12)
	if code := get(t, "http://"+p.http+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d\n%s", code, p.logs())
	}
	if !strings.Contains(p.logs(), "broken pipe") {
		t.Errorf("the failed write is not logged:\n%s", p.logs())
	}
	select {
	case err := <-p.done:
		t.Fatalf("riskgate exited: %v\n%s", err, p.logs())
	default:
	}
	// The alerts left in the queue are undelivered at shutdown: counted and
	// said, not a signal.
	p.stop(t)
	if st := p.cmd.ProcessState; st.ExitCode() != 1 || !strings.Contains(p.logs(), "not delivered before the shutdown deadline") {
		t.Errorf("exit %v, want 1 and the undelivered alerts logged:\n%s", st, p.logs())
	}
}
