package fastdecode_test

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode"
	"github.com/riskgate/riskgate/api/internal/fastdecode/fastdecodetest"
)

// seeds are messages as clients and riskgate send them, and messages with
// every field set.
func seeds() []proto.Message {
	attempt := &pb.Attempt{
		Tenant: "acme", AttemptId: "a-1", Time: timestamppb.Now(), UserId: "u-42",
		Username: "Alice@Example.com", Ip: "81.2.69.160", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		DeviceId: "d-7", PasswordSha1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Result: pb.Result_RESULT_PASSWORD_OK,
		Geo: &pb.GeoHint{Country: "GB", Lat: proto.Float64(51.5), Lon: proto.Float64(-0.12)}, Channel: "web",
		Attributes: map[string]string{"plan": "gold", "mfa": "totp"},
	}
	out := []proto.Message{
		&pb.ScoreRequest{Attempt: attempt},
		&pb.ReportRequest{Tenant: "acme", DecisionId: "d1.x", Attempt: attempt, Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED, Time: timestamppb.Now()},
		&pb.Decision{DecisionId: "d1.x", AttemptId: "a-1", Tenant: "acme", Time: timestamppb.Now(), Action: pb.Action_ACTION_STEP_UP, Score: 40,
			Reasons:      []*pb.Reason{{Rule: "new_device", Action: pb.Action_ACTION_STEP_UP, Score: 40, Message: "a device never seen", Notify: "new_device"}},
			RulesVersion: "builtin-1", Notify: []string{"new_device"}},
		&pb.ReportResponse{},
	}
	for _, m := range messages {
		out = append(out, fastdecodetest.Full(m))
	}
	return out
}

// decoders decode the messages of FuzzDecodeMatchesProto.
var decoders = map[string]func(mem.BufferSlice, proto.Message) bool{
	"ScoreRequest":   decodeWith(fastdecode.NewDecoder[*pb.ScoreRequest]()),
	"ReportRequest":  decodeWith(fastdecode.NewDecoder[*pb.ReportRequest]()),
	"Decision":       decodeWith(fastdecode.NewDecoder[*pb.Decision]()),
	"ReportResponse": decodeWith(fastdecode.NewDecoder[*pb.ReportResponse]()),
	"Attempt":        decodeWith(fastdecode.NewDecoder[*pb.Attempt]()),
}

func decodeWith[M fastdecode.Message](d fastdecode.Decoder[M]) func(mem.BufferSlice, proto.Message) bool {
	return func(data mem.BufferSlice, m proto.Message) bool { return d.Decode(data, m.(M)) }
}

// TestDecodeTakesSeeds: the messages clients and riskgate send, and
// messages with every field set, are decoded by the generated decoder as
// protobuf-go decodes them, from one buffer or several.
func TestDecodeTakesSeeds(t *testing.T) {
	for i, want := range seeds() {
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		name := string(want.ProtoReflect().Descriptor().Name())
		for _, data := range []mem.BufferSlice{
			{mem.SliceBuffer(b)},
			{mem.SliceBuffer(b[:len(b)/2]), mem.SliceBuffer(b[len(b)/2:])},
		} {
			got := want.ProtoReflect().New().Interface()
			if !decoders[name](data, got) {
				t.Errorf("seed %d (%s) in %d buffers: not decoded by the generated decoder", i, name, len(data))
			} else if !proto.Equal(got, want) {
				t.Errorf("seed %d: %v, want %v", i, got, want)
			}
		}
	}
}

// FuzzDecodeMatchesProto: whatever the bytes, a message the generated
// decoder takes is one protobuf-go takes, decoded alike but for unknown
// fields (fastdecodetest.DropUnknowns); one it does not take is given
// back empty, for protobuf-go to decode or refuse.
//
//	go test ./api/internal/fastdecode -run '^$' -fuzz FuzzDecodeMatchesProto -fuzztime 1m
func FuzzDecodeMatchesProto(f *testing.F) {
	for _, m := range seeds() {
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
		for _, msg := range messages {
			name := string(msg.ProtoReflect().Descriptor().Name())
			got := msg.ProtoReflect().New().Interface()
			fast := decoders[name](mem.BufferSlice{mem.SliceBuffer(b)}, got)
			want := msg.ProtoReflect().New().Interface()
			err := proto.Unmarshal(b, want)
			switch {
			case fast && err != nil:
				t.Fatalf("%s %x: the generated decoder took what protobuf-go refuses (%v): %v", name, b, err, got)
			case fast && !proto.Equal(fastdecodetest.DropUnknowns(got), fastdecodetest.DropUnknowns(want)):
				t.Fatalf("%s %x: decoded %v, protobuf-go %v", name, b, got, want)
			case !fast && !proto.Equal(got, msg.ProtoReflect().New().Interface()):
				t.Fatalf("%s %x: given back not reset: %v", name, b, got)
			}
		}
	})
}
