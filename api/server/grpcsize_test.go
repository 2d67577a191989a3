package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/rules"
)

// TestGRPCLargeScoreNotRead: a Score whose length prefix announces a
// message larger than the API listener reads is refused as the prefix
// arrives, its size named, before the rest of it is sent: the server
// reads no more of it. With one limit for every method, sized for a
// ruleset Put (4 MiB), the server waited for the 4 MiB, and read and
// held them, before the codec refused a Score over 64 KiB.
func TestGRPCLargeScoreNotRead(t *testing.T) {
	ts := startServer(t, testOpts{})
	h := dialH2(t, ts.addrs.GRPC)
	if err := h.openScore(1); err != nil {
		t.Fatal(err)
	}
	const announced = 4<<20 - 1 // what a 4 MiB limit read whole
	msg := make([]byte, 16<<10) // a frame's most, by default
	binary.BigEndian.PutUint32(msg[1:5], announced)
	if err := h.fr.WriteData(1, false, msg); err != nil { // the rest never comes
		t.Fatal(err)
	}
	code, message := h.grpcStatus(1)
	if code != codes.ResourceExhausted || !strings.Contains(message, strconv.Itoa(announced)) || !strings.Contains(message, strconv.Itoa(server.GRPCMaxMessage)) {
		t.Errorf("a Score announcing %d bytes, 16 KiB sent: %v %q; want ResourceExhausted naming its size and the limit, before the rest", announced, code, message)
	}
}

// TestGRPCMessageLimits: the API listener reads messages of up to a
// Score's most, refusing larger ones with their size named (and counted,
// though grpc-go refuses them before any interceptor); admin calls work
// there as long as they fit. Larger rules go to the admin listener, which
// reads up to 4 MiB and serves admin calls only, refusing a Score before
// its message.
func TestGRPCMessageLimits(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, grpcAdmin: true})
	api, admin := ts.grpcConn(t), dial(t, ts.addrs.GRPCAdmin, insecure.NewCredentials())
	small := string(rules.DefaultSource().Data)
	large := small + "\n# " + strings.Repeat("x", 200<<10) + "\n" // 200 KiB of comment
	put := func(content string) (any, any) {
		return &pb.PutRulesRequest{Files: []*pb.RuleFile{{Name: "rules.yaml", Content: content}}}, &pb.Ruleset{}
	}
	score := func(ua string) (any, any) {
		return &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", UserId: "u-1", UserAgent: ua}}, &pb.Decision{}
	}
	for _, tc := range []struct {
		name   string
		conn   *grpc.ClientConn
		method string
		token  string
		req    func() (any, any)
		want   codes.Code
		says   []string // in the status's message; %d is the message's size
	}{
		{"API: a Score", api, pb.RiskService_Score_FullMethodName, "", func() (any, any) { return score("Mozilla/5.0") }, codes.OK, nil},
		{"API: a Score of 1 MiB", api, pb.RiskService_Score_FullMethodName, "", func() (any, any) { return score(strings.Repeat("M", 1<<20)) }, codes.ResourceExhausted,
			[]string{"larger than max (%d vs. 65536)"}},
		{"API: a small Put", api, pb.RulesService_Put_FullMethodName, adminToken, func() (any, any) { return put(small) }, codes.OK, nil},
		{"API: a Put of 200 KiB", api, pb.RulesService_Put_FullMethodName, adminToken, func() (any, any) { return put(large) }, codes.ResourceExhausted,
			[]string{"larger than max (%d vs. 65536)"}},
		{"admin: a Put of 200 KiB", admin, pb.RulesService_Put_FullMethodName, adminToken, func() (any, any) { return put(large) }, codes.OK, nil},
		{"admin: a Put without a token", admin, pb.RulesService_Put_FullMethodName, "", func() (any, any) { return put(large) }, codes.Unauthenticated, nil},
		{"admin: a Score", admin, pb.RiskService_Score_FullMethodName, "", func() (any, any) { return score(strings.Repeat("M", 1<<20)) }, codes.PermissionDenied,
			[]string{"served on the API listener (--grpc-addr)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.metricValue(t, "riskgate_grpc_requests_total", "method", tc.method, "code", tc.want.String())
			in, out := tc.req()
			err := tc.conn.Invoke(withToken(context.Background(), tc.token), tc.method, in, out, grpc.MaxCallSendMsgSize(8<<20))
			st := status.Convert(err)
			if st.Code() != tc.want {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			for _, s := range tc.says {
				if strings.Contains(s, "%d") {
					s = fmt.Sprintf(s, proto.Size(in.(proto.Message)))
				}
				if !strings.Contains(st.Message(), s) {
					t.Errorf("%q does not say %q", st.Message(), s)
				}
			}
			// grpc-go answers a message too large before the handler
			// counts it.
			waitFor(t, "the call counted", func() bool {
				return ts.metricValue(t, "riskgate_grpc_requests_total", "method", tc.method, "code", tc.want.String()) == before+1
			})
		})
	}
}

// grpcStatus reads the server's frames until stream id's trailers, and
// returns their grpc-status and grpc-message; a stream reset or a
// connection closed first fails the test.
func (h *rawH2) grpcStatus(id uint32) (codes.Code, string) {
	h.t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("stream %d: no status before %v", id, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				h.t.Fatalf("stream %d reset (%v) without a status", id, f.ErrCode)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != id || f.Header().Flags&http2.FlagHeadersEndStream == 0 {
				continue
			}
			code, message := codes.Unknown, ""
			for _, hf := range f.Fields {
				switch hf.Name {
				case "grpc-status":
					n, _ := strconv.Atoi(hf.Value)
					code = codes.Code(n)
				case "grpc-message":
					message, _ = url.PathUnescape(hf.Value)
				}
			}
			return code, message
		}
	}
}
