package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// rawCodec sends the bytes it is given as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestGRPCBadBytes: over gRPC, malformed protobuf and invalid UTF-8 are
// InvalidArgument and a Score request over the HTTP API's 64 KiB limit is
// ResourceExhausted (now by grpc-go, the API listener reading 64 KiB),
// each counted in riskgate_grpc_requests_total; a good
// request still answers (issue 10 item 10).
func TestGRPCBadBytes(t *testing.T) {
	ts := startServer(t, testOpts{})
	conn := ts.grpcConn(t)
	ctx := context.Background()

	good, err := proto.Marshal(&pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", Username: "aXXb"}})
	if err != nil {
		t.Fatal(err)
	}
	badUTF8 := bytes.Replace(good, []byte("aXXb"), []byte("a\xff\xfeb"), 1)
	large, err := proto.Marshal(&pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", UserAgent: strings.Repeat("M", 3<<20)}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		body []byte
		code codes.Code
	}{
		{"malformed", []byte{0x0a, 0xff, 0xff, 0xff}, codes.InvalidArgument},
		{"invalid utf-8", badUTF8, codes.InvalidArgument},
		{"3 MB", large, codes.ResourceExhausted},
		{"good", good, codes.OK},
	}
	method := pb.RiskService_Score_FullMethodName
	for _, c := range cases {
		before := ts.metricValue(t, "riskgate_grpc_requests_total", "method", method, "code", c.code.String())
		var out []byte
		err := conn.Invoke(ctx, method, &c.body, &out, grpc.ForceCodec(rawCodec{}), grpc.MaxCallSendMsgSize(8<<20))
		if status.Code(err) != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
		// A message too large for the listener is answered by grpc-go
		// before the handler counts it.
		waitFor(t, c.name+" counted in riskgate_grpc_requests_total", func() bool {
			return ts.metricValue(t, "riskgate_grpc_requests_total", "method", method, "code", c.code.String()) == before+1
		})
	}
}
