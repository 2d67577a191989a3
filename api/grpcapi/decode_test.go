package grpcapi

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode/fastdecodetest"
)

// fastRequests are the requests decodeFast decodes.
var fastRequests = []proto.Message{&pb.ScoreRequest{}, &pb.ReportRequest{}}

type vtMarshaler interface{ MarshalVT() ([]byte, error) }

// TestDecodeFastChecksEveryString: the generated decoder takes strings
// that are not UTF-8, which protobuf-go refuses. For every string of the
// requests decodeFast decodes (found from their descriptors, so that a
// field added later is in), such a string makes it give the request
// back, and the codec refuses it as before, naming the field; the same
// request with a UTF-8 string is decoded by it.
func TestDecodeFastChecksEveryString(t *testing.T) {
	c := codec{base: Codec().(codec).base}
	for _, req := range fastRequests {
		md := req.ProtoReflect().Descriptor()
		paths := fastdecodetest.StringPaths(md)
		if len(paths) < 10 {
			t.Fatalf("%s: %d strings found, the walk is broken", md.Name(), len(paths))
		}
		for _, p := range paths {
			t.Run(string(md.Name())+"."+p.String(), func(t *testing.T) {
				encode := func(s string) []byte {
					m := req.ProtoReflect().New()
					p.Set(m, s)
					// vtprotobuf's marshaller writes what protobuf-go's refuses.
					b, err := m.Interface().(vtMarshaler).MarshalVT()
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				good := req.ProtoReflect().New().Interface()
				if !decodeFast(mem.BufferSlice{mem.SliceBuffer(encode("é"))}, good) {
					t.Fatal("a UTF-8 string: not decoded by the generated decoder")
				}
				bad := req.ProtoReflect().New().Interface()
				data := mem.BufferSlice{mem.SliceBuffer(encode("a\xffb"))}
				if decodeFast(data, bad) {
					t.Fatal("a string that is not UTF-8: decoded")
				}
				if !proto.Equal(bad, req.ProtoReflect().New().Interface()) {
					t.Errorf("the request given back is not reset: %v", bad)
				}
				if err := c.Unmarshal(data, bad); err != nil {
					t.Fatal(err)
				}
				st := status.Convert(takeUndecoded(bad))
				if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "invalid UTF-8") {
					t.Errorf("the codec: %v, want InvalidArgument for invalid UTF-8", st)
				}
			})
		}
	}
}

// decodeSeeds are requests as clients send them.
func decodeSeeds() []proto.Message {
	attempt := &pb.Attempt{
		Tenant: "acme", AttemptId: "a-1", Time: timestamppb.Now(), UserId: "u-42",
		Username: "Alice@Example.com", Ip: "81.2.69.160", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		DeviceId: "d-7", PasswordSha1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Result: pb.Result_RESULT_PASSWORD_OK,
		Geo: &pb.GeoHint{Country: "GB", Lat: proto.Float64(51.5), Lon: proto.Float64(-0.12)}, Channel: "web",
		Attributes: map[string]string{"plan": "gold", "mfa": "totp"},
	}
	return []proto.Message{
		&pb.ScoreRequest{Attempt: attempt},
		&pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "2001:db8::1"}, OmitSignals: true, BeforePassword: true},
		&pb.ScoreRequest{},
		&pb.ReportRequest{Tenant: "acme", DecisionId: "d1.x", Attempt: attempt, Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED, Time: timestamppb.Now()},
	}
}

// TestDecodeFastTakesClientRequests: the requests clients send are
// decoded by the generated decoder, as protobuf-go decodes them, from one
// buffer or several.
func TestDecodeFastTakesClientRequests(t *testing.T) {
	for i, want := range decodeSeeds() {
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range []mem.BufferSlice{
			{mem.SliceBuffer(b)},
			{mem.SliceBuffer(b[:len(b)/2]), mem.SliceBuffer(b[len(b)/2:])},
		} {
			got := want.ProtoReflect().New().Interface()
			if !decodeFast(data, got) {
				t.Errorf("seed %d (%T) in %d buffers: not decoded by the generated decoder", i, want, len(data))
			} else if !proto.Equal(got, want) {
				t.Errorf("seed %d: %v, want %v", i, got, want)
			}
		}
	}
}

// FuzzDecodeFastMatchesProto: whatever the bytes, a request the generated
// decoder takes is one protobuf-go takes, decoded alike but for unknown
// fields (fastdecodetest.DropUnknowns); one it does not take is given back empty, for
// protobuf-go to decode or refuse.
//
//	go test ./api/grpcapi -run '^$' -fuzz FuzzDecodeFastMatchesProto -fuzztime 1m
func FuzzDecodeFastMatchesProto(f *testing.F) {
	for _, m := range decodeSeeds() {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x0a\x03\x32\x01\xff"))      // attempt.ip not UTF-8
	f.Add([]byte("\x0a\x02\x08\x01"))          // attempt.tenant as a varint: unknown to protobuf-go
	f.Add([]byte("\x0a\x05\x6a\x03\x0a\x01a")) // attempt.attributes, a key without a value
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, req := range fastRequests {
			got := req.ProtoReflect().New().Interface()
			fast := decodeFast(mem.BufferSlice{mem.SliceBuffer(b)}, got)
			want := req.ProtoReflect().New().Interface()
			err := proto.Unmarshal(b, want)
			switch {
			case fast && err != nil:
				t.Fatalf("%T %x: the generated decoder took what protobuf-go refuses (%v): %v", req, b, err, got)
			case fast && !proto.Equal(fastdecodetest.DropUnknowns(got), fastdecodetest.DropUnknowns(want)):
				t.Fatalf("%T %x: decoded %v, protobuf-go %v", req, b, got, want)
			case !fast && !proto.Equal(got, req.ProtoReflect().New().Interface()):
				t.Fatalf("%T %x: given back not reset: %v", req, b, got)
			}
		}
	})
}

// BenchmarkDecodeScoreRequest: the codec's decoding of an ordinary Score
// request, generated (decodeFast, as the server runs it) against
// grpc-go's table-driven codec.
//
//	go test ./api/grpcapi -run '^$' -bench DecodeScoreRequest -count 6 | benchstat -col /decoder -
func BenchmarkDecodeScoreRequest(b *testing.B) {
	data, err := proto.Marshal(decodeSeeds()[0])
	if err != nil {
		b.Fatal(err)
	}
	c := Codec().(codec)
	for _, tc := range []struct {
		name string
		dec  func(mem.BufferSlice, any) error
	}{{"decoder=generated", c.Unmarshal}, {"decoder=protobuf-go", c.base.Unmarshal}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.dec(mem.BufferSlice{mem.SliceBuffer(data)}, &pb.ScoreRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
