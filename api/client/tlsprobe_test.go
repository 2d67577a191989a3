package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/riskgate/riskgate/api/client"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/internal/tlstest"
)

// TestPlainTextToTLSServer: a client without Options.TLS calling a gRPC
// server that speaks TLS fails over, and its error says what to do rather
// than gRPC's "error reading server preface: EOF". A plain-text server
// that is down gets no such hint.
func TestPlainTextToTLSServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{tlstest.SelfSigned(t)}})))
	pb.RegisterRiskServiceServer(gs, &faulty{})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	for _, tc := range []struct {
		name, target string
		hint         bool
	}{
		{"tls server", l.Addr().String(), true},
		{"tls server, dns target", "dns:///" + l.Addr().String(), true},
		{"nothing listening", refusedAddr(t), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, client.Options{Target: tc.target, Failover: client.StepUp, Timeout: time.Minute, MaxTries: 1})
			d, err := c.BeforePassword(context.Background(), client.Attempt{UserID: "u", IP: "81.2.69.160"})
			var e *client.Error
			if !d.Failover || !errors.As(err, &e) || e.Cause != client.CauseUnavailable {
				t.Fatalf("decision %+v, err %v; want a failover, unavailable", d, err)
			}
			if got := strings.Contains(e.Msg, "the server speaks TLS; set Options.TLS"); got != tc.hint {
				t.Errorf("error %q: TLS hint %v, want %v", e.Msg, got, tc.hint)
			}
		})
	}
}
