package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/server"
)

// rawH2 is an HTTP/2 client connection that writes frames as a hostile
// client would, without a gRPC library's manners.
type rawH2 struct {
	t    *testing.T
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func dialH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard against a server that never answers; the test asserts no time.
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	h := &rawH2{t: t, fr: http2.NewFramer(c, c)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.hbuf)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// openScore opens stream id as a Score call with extra headers, and sends
// no message: the call waits for its request. An error is a connection
// the server closed (or a broken test).
func (h *rawH2) openScore(id uint32, extra ...hpack.HeaderField) error {
	h.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: pb.RiskService_Score_FullMethodName}, {Name: ":authority", Value: "riskgate"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}, extra...) {
		if err := h.enc.WriteField(f); err != nil {
			return err
		}
	}
	block := h.hbuf.Bytes()
	const frag = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	first := block[:min(len(block), frag)]
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(first) == len(block)}); err != nil {
		return err
	}
	for rest := block[len(first):]; len(rest) > 0; {
		n := min(len(rest), frag)
		if err := h.fr.WriteContinuation(id, n == len(rest), rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// resets sends a PING and reads until its answer, which the server writes
// after everything it made of the frames sent before: the streams it reset
// by then, with their codes. closed reports a connection the server closed
// instead.
func (h *rawH2) resets() (_ map[uint32]http2.ErrCode, closed bool) {
	h.t.Helper()
	data := [8]byte{'r', 'i', 's', 'k', 'g', 'a', 't', 'e'}
	if err := h.fr.WritePing(false, data); err != nil {
		return nil, true
	}
	out := map[uint32]http2.ErrCode{}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				h.t.Fatalf("reading the server's frames: %v", err)
			}
			return out, true
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := h.fr.WriteSettingsAck(); err != nil {
					return out, true
				}
			}
		case *http2.RSTStreamFrame:
			out[f.StreamID] = f.ErrCode
		case *http2.GoAwayFrame:
			return out, true
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return out, false
			}
		}
	}
}

// TestGRPCConnectionBounds: one connection cannot open streams without
// bound, each holding its headers while it waits for a request that never
// comes (200,000 such streams held 2.3 GB), nor send a stream megabytes
// of headers; the server refuses the stream past the limit, closes the
// connection that sent too large headers (net/http2's framer stops
// decoding there), and keeps answering others.
func TestGRPCConnectionBounds(t *testing.T) {
	ts := startServer(t, testOpts{})

	h := dialH2(t, ts.addrs.GRPC)
	last := uint32(2*server.GRPCMaxStreams + 1) // client streams are odd
	for id := uint32(1); id <= last; id += 2 {
		if err := h.openScore(id); err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
	}
	got, closed := h.resets()
	if closed {
		t.Fatal("the server closed the connection of too many streams; it should refuse the stream past the limit")
	}
	if code, ok := got[last]; !ok || code != http2.ErrCodeRefusedStream {
		t.Errorf("stream %d, past %d open ones: reset %v (%v), want REFUSED_STREAM", last, server.GRPCMaxStreams, ok, code)
	}
	if len(got) != 1 {
		t.Errorf("streams reset: %v, want only the one past the limit", got)
	}

	h2 := dialH2(t, ts.addrs.GRPC)
	big := strings.Repeat("x", 8<<10)
	var extra []hpack.HeaderField
	for range 2 * server.MaxHeaderBytes / len(big) {
		extra = append(extra, hpack.HeaderField{Name: "x-padding", Value: big, Sensitive: true})
	}
	// The server may close the connection while the headers are still
	// being written: that is the answer too.
	if err := h2.openScore(1, extra...); err != nil {
		t.Logf("writing large headers: %v", err)
	} else if got, closed := h2.resets(); !closed {
		t.Errorf("a stream with %d KiB of headers was taken (resets %v); want the connection closed", 2*server.MaxHeaderBytes>>10, got)
	}

	// The server still answers a well-behaved client.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := pb.NewRiskServiceClient(ts.grpcConn(t)).Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}, OmitSignals: true})
	if err != nil || d.Action != pb.Action_ACTION_ALLOW {
		t.Fatalf("Score beside the hostile connections: %v, %v", d, err)
	}
}

// TestGRPCIdleConnectionClosed: a gRPC connection without a call is
// closed, as an idle HTTP keep-alive connection is, although its client
// pings it (api/client's keepalive, which the server accepts); the client
// reconnects for its next call, which succeeds.
func TestGRPCIdleConnectionClosed(t *testing.T) {
	defer server.SetGRPCConnectionTimes(100*time.Millisecond, time.Hour, time.Hour)()
	ts := startServer(t, testOpts{})
	conn, err := grpc.NewClient(ts.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 2 * time.Second, PermitWithoutStream: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	score := func() {
		t.Helper()
		d, err := pb.NewRiskServiceClient(conn).Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}, OmitSignals: true})
		if err != nil || d.Action != pb.Action_ACTION_ALLOW {
			t.Fatalf("Score: %v, %v", d, err)
		}
	}
	score()
	if s := conn.GetState(); s != connectivity.Ready {
		t.Fatalf("after a call the connection is %v, want READY", s)
	}
	if !conn.WaitForStateChange(ctx, connectivity.Ready) {
		t.Fatal("the server kept an idle gRPC connection open")
	}
	score()
}

// TestGRPCHeldCallEnds: a call that sent its headers and never its message
// does not hold its connection forever: the connection's age ends it.
func TestGRPCHeldCallEnds(t *testing.T) {
	defer server.SetGRPCConnectionTimes(time.Hour, 100*time.Millisecond, 100*time.Millisecond)()
	ts := startServer(t, testOpts{})
	h := dialH2(t, ts.addrs.GRPC)
	if err := h.openScore(1); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server still holds a call that never sent its message: %v", err)
			}
			return // the server closed the connection
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			_ = h.fr.WriteSettingsAck()
		}
	}
}
