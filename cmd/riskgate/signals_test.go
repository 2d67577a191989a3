package main

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSecondSignalCutsTheShutdown: a shutdown waiting for a request
// in flight (up to a minute's --shutdown-timeout) ends at a second
// SIGTERM, exit status 1, the log saying it was cut.
func TestServeSecondSignalCutsTheShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startBinary(t, buildBinary(t), nil, "--shutdown-timeout", "60s")
	// A request whose body never finishes keeps the drain waiting.
	conn, err := net.Dial("tcp", p.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"ip":"81.2.69.160","user_id":"carol","result":"password_ok"}`
	if _, err := conn.Write([]byte("POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:5])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the request is read
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); !strings.Contains(p.logs(), `msg="shutting down"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no shutdown after SIGTERM:\n%s", p.logs())
		}
	}
	select {
	case <-p.done:
		t.Fatalf("exited before the request in flight finished:\n%s", p.logs())
	case <-time.After(500 * time.Millisecond):
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second): // the drain would wait 60 s
		t.Fatalf("a second SIGTERM did not end the shutdown:\n%s", p.logs())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1\n%s", code, p.logs())
	}
	if !strings.Contains(p.logs(), `level=ERROR msg="second signal: shutdown cut short`) || !strings.Contains(p.logs(), "signal=terminated") {
		t.Errorf("the log does not say the shutdown was cut:\n%s", p.logs())
	}
}
