package clienttest

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestStartOnAPortTakenMeanwhile: a port found free and taken before
// riskgate binds it (here, the first one handed out, held by the test) is
// a start on other ports, not a failed test: CI failed so once, another
// process having taken a port between the two.
func TestStartOnAPortTakenMeanwhile(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, calls := freeAddr, 0
	freeAddr = func() (netip.AddrPort, error) {
		calls++
		if calls == 1 {
			return held.Addr().(*net.TCPAddr).AddrPort(), nil
		}
		return free()
	}
	t.Cleanup(func() { freeAddr = free })

	s := Start(t)
	if calls < 4 {
		t.Errorf("%d ports asked for, want at least 4 (two starts)", calls)
	}
	if strings.Contains(s.HTTP, held.Addr().String()) || s.GRPC == held.Addr().String() {
		t.Errorf("riskgate on %s and %s, one of them the taken port %s", s.HTTP, s.GRPC, held.Addr())
	}
	resp, err := http.Get(s.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %s", resp.Status)
	}
}
