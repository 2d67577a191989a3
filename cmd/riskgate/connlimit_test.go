package main

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeMaxConnections runs the binary with RISKGATE_MAX_CONNECTIONS=2
// (--max-connections): past two connections open on the gRPC listener, a
// new one is closed at once, each counted in /metrics, and the log says
// so in a line or two, not a line a connection.
func TestServeMaxConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startBinary(t, buildBinary(t), []string{"RISKGATE_MAX_CONNECTIONS=2"})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", p.grpc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	const refused = 20
	for i := range refused {
		c, err := net.Dial("tcp", p.grpc)
		if err != nil {
			t.Fatal(err)
		}
		// A guard against a hang, not a timing.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("connection %d past --max-connections: read %d bytes, %v; want it closed\n%s", i+3, n, err, p.logs())
		}
		c.Close()
	}
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`riskgate_connections_refused_total{listener="grpc"} 20`, `riskgate_connections_open{listener="grpc"} 2`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	lines := regexp.MustCompile(`msg="connection refused: the listener holds --max-connections already" listener=grpc max_connections=2 `).FindAllString(p.logs(), -1)
	if len(lines) == 0 || len(lines) > 2 {
		t.Errorf("%d log lines for %d connections refused, want one or two:\n%s", len(lines), refused, p.logs())
	}
	for _, c := range held {
		c.Close() // a gRPC connection that never spoke holds the drain up
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
}
