package client_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	gproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/riskgate/riskgate/api/client"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode/fastdecodetest"
)

// answering is a riskgate stand-in that answers every Score with one
// decision, encoded by vtprotobuf's marshaller (as riskgate's server
// encodes it), which writes strings that are not UTF-8 as they are.
type answering struct {
	pb.UnimplementedRiskServiceServer
	mu          sync.Mutex
	decision    *pb.Decision
	contentType []string // of the last call
}

func (a *answering) Score(ctx context.Context, _ *pb.ScoreRequest) (*pb.Decision, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	a.contentType = md.Get("content-type")
	return a.decision, nil
}

func (a *answering) Report(context.Context, *pb.ReportRequest) (*pb.ReportResponse, error) {
	return &pb.ReportResponse{}, nil
}

func (a *answering) lastContentType() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.contentType
}

func (a *answering) answer(d *pb.Decision) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.decision = d
}

// vtCodec encodes answers with vtprotobuf's marshaller.
type vtCodec struct{ encoding.CodecV2 }

func (c vtCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(interface{ MarshalVT() ([]byte, error) }); ok {
		b, err := m.MarshalVT()
		return mem.BufferSlice{mem.SliceBuffer(b)}, err
	}
	return c.CodecV2.Marshal(v)
}

func (a *answering) start(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.ForceServerCodecV2(vtCodec{encoding.GetCodecV2(gproto.Name)}))
	pb.RegisterRiskServiceServer(gs, a)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return l.Addr().String()
}

// capture keeps the answers of a client's calls as decoded, and whether
// each call was made with the client's codec.
type capture struct {
	mu      sync.Mutex
	replies []proto.Message
	codec   []bool
}

func (c *capture) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	ours := false
	for _, o := range opts {
		if f, ok := o.(grpc.ForceCodecV2CallOption); ok {
			ours = client.IsCodec(f.CodecV2) // the last one set wins
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, proto.Clone(reply.(proto.Message)))
	c.codec = append(c.codec, ours)
	return err
}

// TestAnswersRoundTrip: decisions, one with every field set (its signals
// included) among them, come out of the client's connection as riskgate
// sent them, decoded by the client's codec; so does Report's answer.
func TestAnswersRoundTrip(t *testing.T) {
	srv := &answering{}
	target := srv.start(t)
	var got capture
	c := newClient(t, client.Options{Target: target, Tenant: "round-trip", Signals: true,
		DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(got.intercept)}})
	full := fastdecodetest.Full(&pb.Decision{}).(*pb.Decision)
	tests := []struct {
		name string
		d    *pb.Decision
	}{
		{"every field set", full},
		{"an ordinary answer", &pb.Decision{DecisionId: "d1.x", AttemptId: "a-1", Tenant: "acme", Time: timestamppb.New(time.Unix(1_800_000_000, 5)),
			Action: pb.Action_ACTION_STEP_UP, Score: 40, RulesVersion: "builtin-1", Notify: []string{"new_device"},
			Reasons: []*pb.Reason{{Rule: "new_device", Action: pb.Action_ACTION_STEP_UP, Score: 40, Message: "a device never seen: «é»", Notify: "new_device"}}}},
		{"an action alone", &pb.Decision{Action: pb.Action_ACTION_ALLOW}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.answer(tt.d)
			d, err := c.Score(context.Background(), client.Attempt{UserID: "u", IP: "81.2.69.160"}, client.PasswordOK)
			if err != nil || d.Failover {
				t.Fatalf("failed over: %v", err)
			}
			if !proto.Equal(got.replies[i], tt.d) {
				t.Errorf("decoded %v\nwant    %v", got.replies[i], tt.d)
			}
			if !got.codec[i] {
				t.Error("the call was not made with the client's codec")
			}
			if ct := srv.lastContentType(); len(ct) != 1 || ct[0] != "application/grpc+proto" {
				t.Errorf("content-type %q, want application/grpc+proto (the codec's name)", ct)
			}
			if d.DecisionID != tt.d.DecisionId || d.RulesVersion != tt.d.RulesVersion || !proto.Equal(d.Signals, tt.d.Signals) {
				t.Errorf("decision %+v", d)
			}
		})
	}
	if err := c.ReportByID(context.Background(), "", "d1.x", client.ConfirmedFraud); err != nil {
		t.Fatal(err)
	}
	if r := got.replies[len(got.replies)-1]; !proto.Equal(r, &pb.ReportResponse{}) || !got.codec[len(got.codec)-1] {
		t.Errorf("report: %v, with the client's codec: %v", r, got.codec[len(got.codec)-1])
	}
}

// TestAnswerNotUTF8: an answer with a string that is not UTF-8, wherever
// it is (every string of the Decision, found from its descriptor, its
// signals' included), fails over with the error the client gave when
// grpc-go's codec decoded its answers, which still decodes them for it.
func TestAnswerNotUTF8(t *testing.T) {
	srv := &answering{}
	target := srv.start(t)
	o := client.Options{Target: target, Tenant: "not-utf8", Signals: true, Breaker: client.BreakerOptions{Disabled: true}}
	c := newClient(t, o)
	o.DialOptions = []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodecV2(encoding.GetCodecV2(gproto.Name)))}
	before := newClient(t, o) // decoding as the client did before its codec
	paths := fastdecodetest.StringPaths((&pb.Decision{}).ProtoReflect().Descriptor())
	if len(paths) < 20 {
		t.Fatalf("%d strings found in a decision: the walk is broken", len(paths))
	}
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			d := &pb.Decision{Action: pb.Action_ACTION_ALLOW}
			p.Set(d.ProtoReflect(), "a\xffb")
			srv.answer(d)
			a := client.Attempt{UserID: "u", IP: "81.2.69.160"}
			got, err := c.Score(context.Background(), a, client.PasswordOK)
			want, wantErr := before.Score(context.Background(), a, client.PasswordOK)
			if err == nil || !got.Failover || got.Cause != client.CauseServerError || !strings.Contains(err.Error(), "invalid UTF-8") {
				t.Fatalf("%+v, %v: want a failover, server_error, for invalid UTF-8", got, err)
			}
			if wantErr == nil || err.Error() != wantErr.Error() || got.Cause != want.Cause {
				t.Errorf("error %q (%s)\nwant  %q (%s)", err, got.Cause, wantErr, want.Cause)
			}
		})
	}
}

// BenchmarkClientDecodeDecision: decoding an ordinary login's decision,
// signals included, as riskgate answers it (from the shared riskgate),
// with the client's codec (generated) and grpc-go's (protobuf-go). Run
// each in a process of its own, alternately: in one process the first
// reads slower (benchmarks/README.md, "Go client"):
//
//	go test -c -o /tmp/clientbench.test ./api/client && cd api/client &&
//	  for i in 1 2 3 4 5 6 7 8; do for d in generated protobuf-go; do
//	  /tmp/clientbench.test -test.run '^$' -test.bench "ClientDecodeDecision/decoder=$d\$" -test.benchtime 100000x -test.cpu 1
//	  done; done | benchstat -col /decoder -
func BenchmarkClientDecodeDecision(b *testing.B) {
	conn, err := grpc.NewClient(shared.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	d, err := pb.NewRiskServiceClient(conn).Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{
		Tenant: "bench", AttemptId: "bench-decode", UserId: "u-bench", Username: "bench", Ip: "81.2.69.160",
		DeviceId: "d", UserAgent: chromeUA, Result: pb.Result_RESULT_PASSWORD_OK,
	}})
	if err != nil {
		b.Fatal(err)
	}
	data, err := proto.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes, %d reasons, signals: %v", len(data), len(d.Reasons), d.Signals != nil)
	if !client.DecodesFast(data, &pb.Decision{}) {
		b.Fatal("not decoded by the generated decoder")
	}
	base := encoding.GetCodecV2(gproto.Name)
	for _, tc := range []struct {
		name   string
		decode func([]byte, any) error
	}{
		{"decoder=generated", client.DecodeAnswer},
		{"decoder=protobuf-go", func(b []byte, v any) error { return base.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, v) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got pb.Decision
				if err := tc.decode(data, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
