package fastdecode_test

import (
	"os"
	"strconv"
	"testing"

	"google.golang.org/grpc/encoding"
	gproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode"
)

// ordinaryDecision is riskgate's answer to an ordinary login, signals
// included, as the Go client receives it (388 bytes; taken from a
// riskgate serve by BenchmarkClientDecodeDecision on 2026-12-07).
const ordinaryDecision = `decision_id: "01M997RG4TQFQ5XCZ6H7VY8BC4" attempt_id: "bench-decode" tenant: "bench"
time: {seconds: 1796680204 nanos: 442533577} action: ACTION_ALLOW
signals: {
  attempt: {tenant: "bench" user_id: "u-bench" username: "bench" ip: "81.2.69.160"
    user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
    result: "password_ok" has_user: true hour: 21 weekday: 1}
  user: {}
  device: {id_present: true family: "chrome/windows" browser: "chrome" os: "windows" type: "desktop" version: 130}
  geo: {source: "none"}
  ip: {usernames_10m: 1 usernames_1h: 1 usernames_24h: 1 version: 4 class: "public" public: true}
  subnet: {usernames_10m: 1 usernames_1h: 1 usernames_24h: 1 prefix: "81.2.69.0/24"}
  asn: {} account: {} password: {status: "unknown"} tenant: {attempts_10m: 1 attempts_1h: 1}
  state: {available: true} rba: {}
}
rules_version: "sha256:023ffc7acfc1"`

// TestDecodeInstructions decodes an ordinary login's answer
// RISKGATE_DECODE_LOOP times, with the decoder RISKGATE_DECODER names
// (generated, protobuf-go, or check: the UTF-8 check alone), in a
// function of its own for callgrind to count:
//
//	go test -c -o /tmp/fd.test ./api/internal/fastdecode &&
//	  for n in 2000 6000; do RISKGATE_DECODE_LOOP=$n RISKGATE_DECODER=generated GOGC=off GOMAXPROCS=1 \
//	  GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --toggle-collect='*fastdecode_test.decodeLoop' \
//	  --callgrind-out-file=/dev/null /tmp/fd.test -test.run '^TestDecodeInstructions$' 2>&1 | grep Collected; done
//
// The difference of the two counts over 4,000 is a decoding's
// instructions, without the process's start.
func TestDecodeInstructions(t *testing.T) {
	var d pb.Decision
	if err := prototext.Unmarshal([]byte(ordinaryDecision), &d); err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	if !fastdecode.NewDecoder[*pb.Decision]().Decode(mem.BufferSlice{mem.SliceBuffer(data)}, &pb.Decision{}) {
		t.Fatal("not decoded by the generated decoder")
	}
	n, _ := strconv.Atoi(os.Getenv("RISKGATE_DECODE_LOOP"))
	if n == 0 {
		t.Skip("RISKGATE_DECODE_LOOP unset")
	}
	generated, base := fastdecode.NewDecoder[*pb.Decision](), encoding.GetCodecV2(gproto.Name)
	decoders := map[string]func([]byte) bool{
		"generated": func(b []byte) bool {
			return generated.Decode(mem.BufferSlice{mem.SliceBuffer(b)}, &pb.Decision{})
		},
		"protobuf-go": func(b []byte) bool {
			return base.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &pb.Decision{}) == nil
		},
		"check": fastdecode.NewUTF8Checker(d.ProtoReflect().Descriptor()).Valid,
	}
	dec, ok := decoders[os.Getenv("RISKGATE_DECODER")]
	if !ok {
		t.Fatalf("RISKGATE_DECODER %q: want generated, protobuf-go or check", os.Getenv("RISKGATE_DECODER"))
	}
	decodeLoop(dec, data, n)
}

//go:noinline
func decodeLoop(decode func([]byte) bool, data []byte, n int) {
	for range n {
		if !decode(data) {
			panic("not decoded")
		}
	}
}
