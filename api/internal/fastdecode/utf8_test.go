package fastdecode_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode"
	"github.com/riskgate/riskgate/api/internal/fastdecode/fastdecodetest"
)

// messages are the types the server and the client decode with
// generated code, and the attempt the streams decode.
var messages = []proto.Message{&pb.ScoreRequest{}, &pb.ReportRequest{}, &pb.Decision{}, &pb.ReportResponse{}, &pb.Attempt{}}

type vtMarshaler interface{ MarshalVT() ([]byte, error) }

// marshalVT encodes m with vtprotobuf's marshaller, which writes strings
// that are not UTF-8, as protobuf-go's does not.
func marshalVT(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := m.(vtMarshaler).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckerChecksEveryString: for every string of the messages (found
// from their descriptors, so that a field added later is in), a UTF-8
// value passes, and one that is not fails the check, is named, and is
// refused by protobuf-go.
func TestCheckerChecksEveryString(t *testing.T) {
	for _, msg := range messages {
		md := msg.ProtoReflect().Descriptor()
		c := fastdecode.NewUTF8Checker(md)
		paths := fastdecodetest.StringPaths(md)
		if len(paths) < 4 && md.Name() != "ReportResponse" {
			t.Fatalf("%s: %d strings found, the walk is broken", md.Name(), len(paths))
		}
		for _, p := range paths {
			t.Run(string(md.Name())+"."+p.String(), func(t *testing.T) {
				encode := func(s string) []byte {
					m := msg.ProtoReflect().New()
					p.Set(m, s)
					return marshalVT(t, m.Interface())
				}
				good := encode("é")
				if !c.Valid(good) || c.InvalidField(good) != "" || fastdecode.InvalidUTF8Field(good, md) != "" {
					t.Errorf("a UTF-8 string: not valid (%q)", c.InvalidField(good))
				}
				bad := encode("a\xffb")
				if c.Valid(bad) {
					t.Error("a string that is not UTF-8: valid")
				}
				if got := c.InvalidField(bad); got != p.Name() {
					t.Errorf("named %q, want %q", got, p.Name())
				}
				if got := fastdecode.InvalidUTF8Field(bad, md); got != p.Name() {
					t.Errorf("InvalidUTF8Field: %q, want %q", got, p.Name())
				}
				if err := proto.Unmarshal(bad, msg.ProtoReflect().New().Interface()); err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
					t.Errorf("protobuf-go: %v, want invalid UTF-8", err)
				}
			})
		}
	}
}

// tag appends a field's tag and its length-delimited value.
func field(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// TestInvalidField names the first string that is not UTF-8 as
// proto.Unmarshal meets it, in the cases a walk of the bytes can get
// wrong: occurrences of a field after the first, a map entry's key after
// its value or twice, a string after malformed bytes.
func TestInvalidField(t *testing.T) {
	const (
		attemptUsername   = 5
		attemptAttributes = 13
		attemptGeo        = 11
		geoCountry        = 1
		scoreAttempt      = 1
	)
	bad := []byte("a\xffb")
	entry := func(kv ...[]byte) []byte { // key, value, key, ...
		var e []byte
		for i, v := range kv {
			e = field(e, protowire.Number(1+i%2), v)
		}
		return e
	}
	tests := []struct {
		name string
		msg  proto.Message
		data []byte
		want string
	}{
		{"username", &pb.Attempt{}, field(nil, attemptUsername, bad), "username"},
		{"username's second occurrence", &pb.Attempt{}, field(field(nil, attemptUsername, []byte("al")), attemptUsername, bad), "username"},
		{"nested", &pb.Attempt{}, field(nil, attemptGeo, field(nil, geoCountry, bad)), "geo.country"},
		{"twice nested", &pb.ScoreRequest{}, field(nil, scoreAttempt, field(nil, attemptGeo, field(nil, geoCountry, bad))), "attempt.geo.country"},
		{"attribute value", &pb.Attempt{}, field(nil, attemptAttributes, entry([]byte("app"), bad)), "attributes.app"},
		{"attribute value before its key", &pb.Attempt{}, field(nil, attemptAttributes, field(field(nil, 2, bad), 1, []byte("app"))), "attributes.app"},
		{"attribute value, the key twice", &pb.Attempt{}, field(nil, attemptAttributes, entry([]byte("a"), bad, []byte("b"))), "attributes.b"},
		{"attribute value, no key", &pb.Attempt{}, field(nil, attemptAttributes, field(nil, 2, bad)), "attributes."},
		{"attribute key", &pb.Attempt{}, field(nil, attemptAttributes, entry(bad, []byte("web"))), "attributes"},
		{"attribute key, then a good one", &pb.Attempt{}, field(nil, attemptAttributes, entry(bad, []byte("web"), []byte("app"))), "attributes"},
		{"attribute key after a bad value", &pb.Attempt{}, field(nil, attemptAttributes, field(field(nil, 2, bad), 1, bad)), "attributes"},
		{"attribute value, then malformed bytes", &pb.Attempt{}, field(nil, attemptAttributes, append(entry([]byte("app"), bad), 0x0a, 0x05)), "attributes.app"},
		{"malformed bytes before", &pb.Attempt{}, append(field(nil, attemptGeo, []byte{0x0a, 0x05}), field(nil, attemptUsername, bad)...), ""},
		{"a field number past the last before", &pb.Attempt{}, append(protowire.AppendVarint(protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType), 1), field(nil, attemptUsername, bad)...), ""},
		{"an entry cut after a tag, then a bad key", &pb.Attempt{}, append(field(nil, attemptAttributes, []byte{0x18}), field(nil, attemptAttributes, entry(bad, []byte("web")))...), ""},
		{"malformed bytes after", &pb.Attempt{}, append(field(nil, attemptUsername, bad), 0x0a, 0x05), "username"},
		{"as a varint: unknown", &pb.Attempt{}, protowire.AppendVarint(protowire.AppendTag(nil, attemptUsername, protowire.VarintType), 1), ""},
		{"none", &pb.Attempt{}, field(nil, attemptUsername, []byte("al")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := tt.msg.ProtoReflect().Descriptor()
			if got := fastdecode.InvalidUTF8Field(tt.data, md); got != tt.want {
				t.Errorf("InvalidUTF8Field: %q, want %q", got, tt.want)
			}
			err := proto.Unmarshal(tt.data, tt.msg.ProtoReflect().New().Interface())
			if valid := fastdecode.NewUTF8Checker(md).Valid(tt.data); valid != (err == nil) {
				t.Errorf("valid %v, protobuf-go: %v", valid, err)
			}
			// Named exactly when protobuf-go refuses the bytes for a
			// string that is not UTF-8.
			if utf8Err := err != nil && strings.Contains(err.Error(), "invalid UTF-8"); utf8Err != (tt.want != "") {
				t.Errorf("protobuf-go: %v", err)
			}
		})
	}
}

// FuzzInvalidFieldMatchesProto: on any bytes, the checker does not panic;
// it names a field exactly when proto.Unmarshal refuses the bytes for a
// string that is not UTF-8, and finds them not valid whenever
// proto.Unmarshal refuses them that way or another it walks.
//
//	go test ./api/internal/fastdecode -run '^$' -fuzz FuzzInvalidFieldMatchesProto -fuzztime 1m
func FuzzInvalidFieldMatchesProto(f *testing.F) {
	for _, m := range seeds() {
		f.Add(marshalVT(f, m))
	}
	f.Add(marshalVT(f, &pb.Attempt{Ip: "81.2.69.160", Username: "\xff\xfe", Attributes: map[string]string{"k": "v\xff"}}))
	f.Add([]byte("\x0a\x03\x32\x01\xff"))      // attempt.ip not UTF-8
	f.Add([]byte("\x0a\x05\x6a\x03\x12\x01a")) // attempt.attributes, a value without a key
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, msg := range messages {
			md := msg.ProtoReflect().Descriptor()
			name := fastdecode.InvalidUTF8Field(data, md)
			err := proto.Unmarshal(data, msg.ProtoReflect().New().Interface())
			utf8Err := err != nil && strings.Contains(err.Error(), "invalid UTF-8")
			switch {
			case name != "" && !utf8Err:
				t.Fatalf("%s %x: %s named, protobuf-go: %v", md.Name(), data, name, err)
			case name == "" && utf8Err:
				t.Fatalf("%s %x: none named, protobuf-go: %v", md.Name(), data, err)
			case utf8Err && fastdecode.NewUTF8Checker(md).Valid(data):
				t.Fatalf("%s %x: valid, protobuf-go: %v", md.Name(), data, err)
			}
		}
	})
}
