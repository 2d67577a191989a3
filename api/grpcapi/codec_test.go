package grpcapi

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	gproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
)

// fillRandom sets each field of v to a random value, zero half the time
// (proto3 leaves zero fields out, and each skip is a branch of its own).
func fillRandom(r *rand.Rand, v reflect.Value) {
	zero := r.IntN(2) == 0
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(r.Int64N(4e9), r.Int64N(1e9))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(r, v.Field(i))
			}
		}
	case reflect.Bool:
		v.SetBool(!zero)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if !zero {
			v.SetInt(r.Int64N(1<<31) - 1<<30) // negatives too: ten-byte varints
		}
	case reflect.Float64:
		if !zero {
			v.SetFloat(r.NormFloat64() * 1000)
		}
	case reflect.String:
		if !zero {
			v.SetString(strings.Repeat("é", r.IntN(200))) // lengths past one varint byte
		}
	case reflect.Slice:
		n := 0
		if !zero {
			n = 1 + r.IntN(3)
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillRandom(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if !zero { // one entry: map order is not part of the comparison
			v.Set(reflect.ValueOf(map[string]string{"k" + strings.Repeat("x", r.IntN(3)): "v"}))
		}
	}
}

// TestCodecMatchesProto: the server's codec writes the same bytes as
// protobuf-go's deterministic marshalling, for decisions (with and without
// signals) whose every field is randomly zero or not, and hands other
// messages to grpc-go's codec.
func TestCodecMatchesProto(t *testing.T) {
	c := Codec()
	r := rand.New(rand.NewPCG(15, 1))
	check := func(t *testing.T, m proto.Message) {
		t.Helper()
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		defer got.Free()
		if b := got.Materialize(); !bytes.Equal(b, want) {
			t.Fatalf("%T: codec wrote %d bytes, protobuf-go %d; differ", m, len(b), len(want))
		}
		back := proto.Clone(m)
		proto.Reset(back)
		if err := c.Unmarshal(got, back); err != nil || !proto.Equal(back, m) {
			t.Fatalf("%T does not read back: %v", m, err)
		}
	}
	for range 300 {
		var d engine.Decision
		fillRandom(r, reflect.ValueOf(&d).Elem())
		check(t, decisionToPB(&d))
		check(t, decisionToPBNoSignals(&d))
	}
	// A large one goes through the buffer pool.
	d := engine.Decision{Reasons: make([]engine.Reason, 200)}
	for i := range d.Reasons {
		d.Reasons[i] = engine.Reason{RuleID: "rule", Message: strings.Repeat("m", 100), Tags: []string{"a"}}
	}
	if mem.IsBelowBufferPoolingThreshold(proto.Size(decisionToPB(&d))) {
		t.Fatal("the large decision is not large enough to be pooled")
	}
	check(t, decisionToPB(&d))
	// A message without generated marshalling: grpc-go's codec.
	check(t, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "attempt.ip", Description: "not an address"}}})
	if _, ok := any(&errdetails.BadRequest{}).(vtMessage); ok {
		t.Fatal("the fallback is not exercised")
	}
	if _, ok := any(&pb.Decision{}).(vtMessage); !ok {
		t.Fatal("Decision has no generated marshalling: run go generate ./api")
	}
}

// BenchmarkDecisionEncode is what answering a Score costs past the engine:
// converting the decision and marshalling it, with grpc-go's codec, with
// the server's, and with the server's on a pooled reply (what Score does).
func BenchmarkDecisionEncode(b *testing.B) {
	d := typicalDecision()
	base, ours := encoding.GetCodecV2(gproto.Name), Codec()
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
		reply func() any
	}{
		{"grpc", base, func() any { return decisionToPB(&d) }},
		{"vtproto", ours, func() any { return decisionToPB(&d) }},
		{"vtproto-pooled", ours, func() any {
			r := replies.Get().(*decisionReply)
			r.msg = r.box.fill(&d)
			return r
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.codec.Marshal(c.reply())
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}

// typicalDecision is a known user's ordinary login: most signals zero or
// false, the strings of a real attempt, one reason.
func typicalDecision() engine.Decision {
	d := engine.Decision{
		DecisionID: "01JEXAMPLE0000000000000000", Tenant: "default", Time: time.Unix(1764800000, 123456789),
		Action: engine.ActionAllow, Score: 10, RulesVersion: "default@sha256:0123456789abcdef",
		Reasons: []engine.Reason{{RuleID: "new_device", Action: engine.ActionNone, Score: 10, Message: "first login from this device", Tags: []string{"device"}}},
	}
	s := &d.Signals
	s.Attempt = engine.AttemptEnv{Tenant: "default", UserID: "user-42", Username: "user42@example.com", IP: "81.2.69.160",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Result:    "password_ok", HasUser: true, Hour: 9, Weekday: 3}
	s.User = engine.UserEnv{Known: true, Logins: 23, AgeDays: 41.5, DaysSince: 1.2, HourShare: 0.4, HoursLearned: true}
	s.Device = engine.DeviceEnv{IDPresent: true, New: true, Devices: 2, Family: "chrome/windows", Browser: "chrome", OS: "windows", Type: "desktop"}
	s.Geo = engine.GeoEnv{Known: true, Source: "geoip", Country: "GB", City: "London", Lat: 51.5, Lon: -0.12, HasCoordinates: true, AccuracyKM: 20,
		PreviousCountry: "GB", VelocityKnown: true, DistanceKM: 3.2, HoursSince: 28.8, SpeedKMH: 0.1}
	s.IP = engine.IPEnv{Version: 4, Class: "public", Public: true, NewForUser: true}
	s.IP.Usernames10m, s.IP.Usernames1h, s.IP.Usernames24h = 1, 1, 1
	s.Subnet.Prefix = "81.2.69.0/24"
	s.Subnet.Usernames10m, s.Subnet.Usernames1h, s.Subnet.Usernames24h = 1, 2, 5
	s.ASN = engine.ASNEnv{Known: true, Number: 20712, Org: "Andrews & Arnold Ltd"}
	s.Password = engine.PasswordEnv{Status: "absent"}
	s.Tenant = engine.TenantEnv{Attempts10m: 1200, Failures10m: 40, FailureRate10m: 0.033, FailureRate24h: 0.03}
	s.State.Available, s.RBA.Available, s.RBA.Score = true, true, 0.12
	return d
}

// TestPooledReply: a Score's pooled answer marshals to the Decision's
// bytes, and once on the wire it holds nothing of the attempt.
func TestPooledReply(t *testing.T) {
	d := typicalDecision()
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(decisionToPB(&d))
	if err != nil {
		t.Fatal(err)
	}
	r := new(decisionReply)
	r.msg = r.box.fill(&d)
	got, err := Codec().Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Materialize(), want) {
		t.Error("the pooled reply's bytes differ from the Decision's")
	}
	if r.msg != nil || r.box.sig.attempt.Username != "" {
		t.Error("a marshalled reply still holds the attempt")
	}
}

// TestPooledReplyMarshalAllocations: a Score's answer (about 600
// bytes with its signals, below grpc-go's pooling threshold) is marshalled
// into a pooled buffer that the transport frees after the write, not into
// a new slice per call.
func TestPooledReplyMarshalAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; the budget is checked by the non-race run")
	}
	d := typicalDecision()
	d.Reasons = nil // their conversion allocates; the marshalling is what is measured
	c := Codec()
	if n := decisionToPB(&d).SizeVT(); !mem.IsBelowBufferPoolingThreshold(n) {
		t.Fatalf("the typical decision is %d bytes: this test wants one below grpc-go's pooling threshold", n)
	}
	marshal := func() {
		r := replies.Get().(*decisionReply)
		r.msg = r.box.fill(&d)
		out, err := c.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out.Free()
	}
	marshal()
	// One allocation is left: the one-element mem.BufferSlice handed to
	// grpc-go, which keeps it. A new slice for the bytes (and its boxing
	// as a mem.Buffer) would be two more.
	if n := testing.AllocsPerRun(200, marshal); n > 1 {
		t.Errorf("marshalling a pooled reply: %.1f allocations, want at most 1", n)
	}
}

// TestCodecRefusesBadRequests: the codec itself refuses a riskgate request
// with invalid UTF-8 in any of its strings, a malformed one and one over
// the size limit, with the code the interceptor answers, whatever the
// engine would say of the same attempt (it refuses invalid UTF-8 in the
// fields it checks too, so the end-to-end test cannot tell the two
// apart). A good request decodes and leaves nothing behind.
func TestCodecRefusesBadRequests(t *testing.T) {
	marshal := func(a *pb.Attempt) []byte {
		b, err := proto.Marshal(&pb.ScoreRequest{Attempt: a})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Each string field in turn carries "aXXb", which becomes invalid
	// UTF-8 in the bytes.
	utf8Cases := map[string]*pb.Attempt{
		"username":    {Ip: "81.2.69.160", Username: "aXXb"},
		"user_id":     {Ip: "81.2.69.160", UserId: "aXXb"},
		"user_agent":  {Ip: "81.2.69.160", UserAgent: "aXXb"},
		"attempt_id":  {Ip: "81.2.69.160", AttemptId: "aXXb"},
		"channel":     {Ip: "81.2.69.160", Channel: "aXXb"},
		"attributes":  {Ip: "81.2.69.160", Attributes: map[string]string{"k": "aXXb"}},
		"geo.country": {Ip: "81.2.69.160", Geo: &pb.GeoHint{Country: "aXXb"}},
	}
	type tc struct {
		name string
		body []byte
		code codes.Code
		text string
	}
	var cases []tc
	for field, a := range utf8Cases {
		body := bytes.Replace(marshal(a), []byte("aXXb"), []byte("a\xff\xfeb"), 1)
		// The message names the field, as a JSON request's does.
		name := "attempt." + field
		if field == "attributes" {
			name += ".k"
		}
		cases = append(cases, tc{"invalid utf-8 in " + field, body, codes.InvalidArgument, name + ": invalid UTF-8"})
	}
	keyBody := bytes.Replace(marshal(&pb.Attempt{Ip: "81.2.69.160", Attributes: map[string]string{"aXXb": "v"}}), []byte("aXXb"), []byte("a\xff\xfeb"), 1)
	cases = append(cases, tc{"invalid utf-8 in an attribute's key", keyBody, codes.InvalidArgument, "attempt.attributes: invalid UTF-8"})
	cases = append(cases,
		tc{"malformed", []byte{0x0a, 0xff, 0xff, 0xff}, codes.InvalidArgument, "request: "},
		tc{"over the limit", marshal(&pb.Attempt{Ip: "81.2.69.160", UserAgent: strings.Repeat("M", wire.MaxMessage)}), codes.ResourceExhausted, "larger than"},
		tc{"good", marshal(&pb.Attempt{Ip: "81.2.69.160", Username: "aéb"}), codes.OK, ""},
	)
	for _, c := range cases {
		req := &pb.ScoreRequest{}
		if err := Codec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(c.body)}, req); err != nil {
			t.Fatalf("%s: Unmarshal returned %v: grpc-go would answer Internal", c.name, err)
		}
		err := takeUndecoded(req)
		if got := status.Code(err); got != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		} else if err != nil && !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %q does not say %q", c.name, err, c.text)
		}
		if c.code == codes.OK && req.GetAttempt().GetUsername() != "aéb" {
			t.Errorf("%s: decoded %v", c.name, req)
		}
		if takeUndecoded(req) != nil {
			t.Errorf("%s: the failure was not taken once", c.name)
		}
	}
}
