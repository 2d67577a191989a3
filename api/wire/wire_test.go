package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// TestJSONNamesMatchEngine keeps the decoding structs' field names equal to
// the engine's, so that a field added to engine.Attempt is noticed here.
func TestJSONNamesMatchEngine(t *testing.T) {
	for _, pair := range [][2]reflect.Type{
		{wire.AttemptJSONType, reflect.TypeOf(engine.Attempt{})},
		{wire.OutcomeJSONType, reflect.TypeOf(engine.Outcome{})},
	} {
		if got, want := jsonNames(pair[0]), jsonNames(pair[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("%v has JSON fields %v, %v has %v", pair[0], got, pair[1], want)
		}
	}
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue // set from the request, not the message (BeforePassword)
		}
		out = append(out, name)
	}
	return out
}

// httpAnswer is what the HTTP API answered: a decision or an error.
type httpAnswer struct {
	status int
	action string
	score  int
	rules  []string
	field  string
	msg    string
}

func httpRoute(t *testing.T, e *engine.Engine, pattern string) http.HandlerFunc {
	api := &httpapi.API{Service: service.New(e, nil), Log: slog.New(slog.DiscardHandler)}
	for _, r := range api.Routes() {
		if r.Pattern() == pattern {
			return r.Handler
		}
	}
	t.Fatalf("no route %s", pattern)
	return nil
}

func callHTTP(t *testing.T, h http.HandlerFunc, path, body string) httpAnswer {
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	ans := httpAnswer{status: rec.Code}
	var out struct {
		Action  string `json:"action"`
		Score   int    `json:"score"`
		Reasons []struct {
			Rule string `json:"rule"`
		} `json:"reasons"`
		Error struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if rec.Code != http.StatusNoContent {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("HTTP answer %q: %v", rec.Body.String(), err)
		}
	}
	ans.action, ans.score, ans.field, ans.msg = out.Action, out.Score, out.Error.Field, out.Error.Message
	for _, r := range out.Reasons {
		ans.rules = append(ans.rules, r.Rule)
	}
	return ans
}

var goType = regexp.MustCompile(`want [a-z]+\.[A-Za-z]+`)

// errAnswer is how the HTTP API would report a decoding or engine error.
func errAnswer(err error) httpAnswer {
	var (
		we *wire.Error
		fe *engine.FieldError
	)
	switch {
	case errors.As(err, &we):
		// The HTTP API says "request body" where a message has no name.
		return httpAnswer{status: 400, field: we.Field, msg: strings.Replace(we.Msg, "message", "request body", 1)}
	case errors.As(err, &fe):
		return httpAnswer{status: 400, field: fe.Field, msg: fe.Error()}
	}
	return httpAnswer{status: 500, msg: err.Error()}
}

// TestAttemptsDecodeAsOverHTTP decodes and scores attempts both ways, on
// two engines fed the same history, and requires the same answer: the
// same decision, or the same error naming the same field.
func TestAttemptsDecodeAsOverHTTP(t *testing.T) {
	bodies := []string{
		`{"user_id": "u-1", "username": "Alice@Example.com", "ip": "81.2.69.160", "result": "password_ok", "device_id": "d1", "time": "2026-05-09T11:00:00Z"}`,
		`{"tenant": "acme", "attempt_id": "a-1", "ip": "2001:db8::1", "result": "password_bad", "geo": {"country": "fr", "lat": 48.8, "lon": 2.3}, "attributes": {"app": "x"}}`,
		`{"ip": "203.0.113.9", "password_sha1": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", "result": "no_such_user", "username": "root", "channel": "web"}`,
		`{"ip": "81.2.69.999"}`,
		`{"ip": "81.2.69.1", "result": "maybe"}`,
		`{"ip": "81.2.69.1", "time": "yesterday"}`,
		`{"ip": "81.2.69.1", "password_sha1": "hunter2"}`,
		`{"ip": "81.2.69.1", "pasword_sha1": "x"}`,
		`{"ip": 7}`,
		`{"ip": "81.2.69.1", "geo": {"lat": 1}}`,
		`{"ip": "81.2.69.1", "tenant": "a b"}`,
		`{"ip": "81.2.69.1"} {"ip": "81.2.69.2"}`,
		`{"ip": "81.2.69.1"`,
		`{"ip": "81.2.69.1",}`,
		``,
		`[]`,
		`{"user_id": "` + strings.Repeat("x", 300) + `", "ip": "81.2.69.1"}`,
	}
	now := time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC)
	opts := engine.Options{Now: func() time.Time { return now }}
	viaHTTP := httpRoute(t, enginetest.New(t, opts), "POST /v1/score")
	direct := enginetest.New(t, opts)
	for i, body := range bodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := callHTTP(t, viaHTTP, "/v1/score", body)
			var got httpAnswer
			a, err := wire.DecodeAttemptJSON([]byte(body))
			if err == nil {
				var d engine.Decision
				if d, err = direct.Score(context.Background(), a); err == nil {
					got = httpAnswer{status: 200, action: d.Action.String(), score: d.Score}
					for _, r := range d.Reasons {
						got.rules = append(got.rules, r.RuleID)
					}
				}
			}
			if err != nil {
				got = errAnswer(err)
				if !errors.Is(err, engine.ErrInvalid) {
					t.Errorf("error %v does not wrap engine.ErrInvalid", err)
				}
			}
			// The HTTP API names its Go type for a body that is not an
			// object; a message says what it wants.
			want.msg = goType.ReplaceAllString(want.msg, "want a JSON object")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("body %.80s\nHTTP: %+v\nwire: %+v", body, want, got)
			}
		})
	}
}

func TestOutcomesDecodeAsOverHTTP(t *testing.T) {
	bodies := []string{
		`{"decision_id": "d-unknown", "outcome": "login_failed"}`,
		`{"decision_id": "d-1", "outcome": "confirmed_fraud", "time": "2026-05-09T11:00:00Z"}`,
		`{"attempt": {"user_id": "u-1", "ip": "81.2.69.160"}, "outcome": "login_succeeded"}`,
		`{"attempt": {"user_id": "u-1", "ip": "81.2.69.160", "result": "perhaps"}, "outcome": "login_failed"}`,
		`{"attempt": {"ip": "nope"}, "outcome": "login_failed"}`,
		`{"decision_id": "d-1"}`,
		`{"decision_id": "d-1", "outcome": "won"}`,
		`{"decision_id": "d-1", "outcome": "login_failed", "extra": 1}`,
		`{"decision_id": "d-1", "outcome": "login_failed", "time": "noon"}`,
	}
	viaHTTP := httpRoute(t, enginetest.New(t, engine.Options{}), "POST /v1/outcome")
	direct := enginetest.New(t, engine.Options{})
	for i, body := range bodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := callHTTP(t, viaHTTP, "/v1/outcome", body)
			got := httpAnswer{status: 204}
			o, err := wire.DecodeOutcomeJSON([]byte(body))
			if err == nil {
				err = direct.Report(context.Background(), o)
			}
			if errors.Is(err, engine.ErrUnknownDecision) {
				got = httpAnswer{status: 404, field: "decision_id", msg: "unknown, expired or already reported decision"}
			} else if err != nil {
				got = errAnswer(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("body %s\nHTTP: %+v\nwire: %+v", body, want, got)
			}
		})
	}
}

func TestDecodeRefusesOversizedMessages(t *testing.T) {
	big := []byte(`{"ip": "81.2.69.1", "user_agent": "` + strings.Repeat("x", wire.MaxMessage) + `"}`)
	for name, decode := range map[string]func([]byte) error{
		"attempt json":  func(b []byte) error { _, err := wire.DecodeAttemptJSON(b); return err },
		"outcome json":  func(b []byte) error { _, err := wire.DecodeOutcomeJSON(b); return err },
		"attempt proto": func(b []byte) error { _, err := wire.DecodeAttemptProto(b); return err },
		"outcome proto": func(b []byte) error { _, err := wire.DecodeOutcomeProto(b); return err },
	} {
		var we *wire.Error
		if err := decode(big); !errors.As(err, &we) || !we.TooLarge {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestProtoAttempts(t *testing.T) {
	lat, lon := 48.8, 2.3
	full := &pb.Attempt{
		Tenant: "acme", AttemptId: "a1", Time: timestamppb.New(time.Date(2026, 5, 9, 11, 0, 0, 0, time.UTC)),
		UserId: "u1", Username: "bob", Ip: "81.2.69.160", UserAgent: "ua", DeviceId: "d1",
		PasswordSha1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Result: pb.Result_RESULT_PASSWORD_BAD,
		Geo: &pb.GeoHint{Country: "FR", Lat: &lat, Lon: &lon}, Channel: "web", Attributes: map[string]string{"k": "v"},
	}
	want := engine.Attempt{
		Tenant: "acme", AttemptID: "a1", Time: time.Date(2026, 5, 9, 11, 0, 0, 0, time.UTC), UserID: "u1",
		Username: "bob", IP: "81.2.69.160", UserAgent: "ua", DeviceID: "d1",
		PasswordSHA1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Result: engine.ResultPasswordBad,
		Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon}, Channel: "web", Attributes: map[string]string{"k": "v"},
	}
	tests := []struct {
		name      string
		data      []byte
		want      *engine.Attempt
		wantField string
	}{
		{"full", marshal(t, full), &want, ""},
		{"empty message", nil, &engine.Attempt{}, ""},
		{"unknown result", marshal(t, &pb.Attempt{Ip: "81.2.69.1", Result: 9}), nil, "result"},
		{"bad timestamp", marshal(t, &pb.Attempt{Ip: "81.2.69.1", Time: &timestamppb.Timestamp{Seconds: -1 << 62}}), nil, "time"},
		{"not protobuf", []byte(`{"ip": "81.2.69.1"}`), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DecodeAttemptProto(tt.data)
			if tt.want != nil {
				if err != nil || !reflect.DeepEqual(got, *tt.want) {
					t.Fatalf("got %+v, %v; want %+v", got, err, *tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("err = %v, want an invalid-input error", err)
			}
			var fe *engine.FieldError
			if tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField) {
				t.Fatalf("err = %v, want field %s", err, tt.wantField)
			}
		})
	}
}

func TestProtoOutcomes(t *testing.T) {
	o, err := wire.DecodeOutcomeProto(marshal(t, &pb.ReportRequest{Tenant: "acme", DecisionId: "d1", Outcome: pb.Outcome_OUTCOME_STEP_UP_PASSED}))
	if err != nil || o.DecisionID != "d1" || o.Outcome != engine.StepUpPassed || o.Tenant != "acme" {
		t.Fatalf("%+v, %v", o, err)
	}
	_, err = wire.DecodeOutcomeProto(marshal(t, &pb.ReportRequest{Attempt: &pb.Attempt{Result: 7}, Outcome: 2}))
	var fe *engine.FieldError
	if !errors.As(err, &fe) || fe.Field != "attempt.result" {
		t.Fatalf("err = %v, want field attempt.result", err)
	}
	if _, err := wire.DecodeOutcomeProto(marshal(t, &pb.ReportRequest{Outcome: 42})); !errors.As(err, &fe) || fe.Field != "outcome" {
		t.Fatalf("err = %v, want field outcome", err)
	}
}

func marshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeAttemptJSON(f *testing.F) {
	f.Add([]byte(`{"ip": "81.2.69.1", "result": "password_ok", "time": "2026-05-09T11:00:00Z", "geo": {"lat": 1, "lon": 2}}`))
	f.Add([]byte(`{"ip": 1}`))
	f.Add([]byte(`{"attributes": {"a": "b"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := wire.DecodeAttemptJSON(data)
		if err != nil {
			if !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// What decodes must survive the engine's validation without panic.
		_, _ = json.Marshal(a)
	})
}

func FuzzDecodeAttemptProto(f *testing.F) {
	f.Add([]byte{0x32, 0x0a, '8', '1', '.', '2', '.', '6', '9', '.', '1', '6'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := wire.DecodeAttemptProto(data); err != nil && !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}

// TestStrictJSON: what encoding/json lets through silently is refused for
// the streams too, naming the field (issue 10 item 10).
func TestStrictJSON(t *testing.T) {
	tests := []struct{ body, field string }{
		{"{\"ip\":\"81.2.69.160\",\"username\":\"a\xffb\"}", "username"},
		{`{"ip":"81.2.69.160","Ip":"1.1.1.1"}`, "Ip"},
		{`{"ip":"81.2.69.160","ip":"1.1.1.1"}`, "ip"},
		{`{"ip":"81.2.69.160","attributes":{"K":"a","K":"b"}}`, "attributes.K"},
		{`{"ip":"81.2.69.160","geo":{"country":"FR","Lat":1}}`, "geo.Lat"},
		// Half a surrogate pair, escaped: valid JSON, no character.
		{`{"ip":"81.2.69.160","username":"\udbffx"}`, "username"},
		{`{"ip":"81.2.69.160","username":"a\udc00"}`, "username"},
		{`{"ip":"81.2.69.160","username":"\ud83d\ud83d"}`, "username"},
		{`{"ip":"81.2.69.160","attributes":{"app":"\ud800"}}`, "attributes.app"},
		{`{"ip":"81.2.69.160","attributes":{"\udfff":"x"}}`, "attributes.\ufffd"},
		// An attribute's value is a string (or null): the error names its key.
		{`{"ip":"81.2.69.160","attributes":{"app":"web","a":1}}`, "attributes.a"},
		{`{"ip":"81.2.69.160","attributes":{"b":true}}`, "attributes.b"},
		{`{"ip":"81.2.69.160","attributes":{"c":{"d":"e"}}}`, "attributes.c"},
		{`{"ip":"81.2.69.160","attributes":{"e":["x"]}}`, "attributes.e"},
		// Nesting past MaxDepth names the top-level field it is under
		// (encoding/json's own bound named none).
		{`{"ip":"81.2.69.160","attributes":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "attributes"},
		{`{"ip":"81.2.69.160","zz":` + strings.Repeat("[", wire.MaxDepth) + strings.Repeat("]", wire.MaxDepth) + `}`, "zz"},
		{`{"ip":"81.2.69.160","geo":` + strings.Repeat(`{"a":`, wire.MaxDepth) + "1" + strings.Repeat("}", wire.MaxDepth) + `}`, "geo"},
	}
	for _, tt := range tests {
		_, err := wire.DecodeAttemptJSON([]byte(tt.body))
		var we *wire.Error
		if !errors.As(err, &we) || we.Field != tt.field {
			t.Errorf("%q: %v, want an error on %s", tt.body, err, tt.field)
		}
	}
	// Within the bound, the message's own problem is the error.
	deep := `{"ip":"81.2.69.160","zz":` + strings.Repeat("[", wire.MaxDepth-1) + strings.Repeat("]", wire.MaxDepth-1) + `}`
	if _, err := wire.DecodeAttemptJSON([]byte(deep)); err == nil || strings.Contains(err.Error(), "nested") || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("%d levels: %v, want zz's unknown field", wire.MaxDepth, err)
	}
	if _, err := wire.DecodeAttemptJSON([]byte(`{"ip":"81.2.69.160","attributes":{"a":null,"b":"x"}}`)); err != nil {
		t.Errorf("a null attribute: %v", err)
	}
	// A whole pair, an escaped backslash before a u, and plain escapes.
	a, err := wire.DecodeAttemptJSON([]byte(`{"ip":"81.2.69.160","username":"\ud83d\ude00 \\udbff \u00e9"}`))
	if err != nil || a.Username != "\U0001F600 \\udbff \u00e9" {
		t.Errorf("valid escapes: %q, %v", a.Username, err)
	}
	if _, err := wire.DecodeAttemptJSON([]byte(`{"ip":"81.2.69.160","attributes":{"App":"web","app":"x"},"geo":{"country":"FR"}}`)); err != nil {
		t.Errorf("attribute keys are the caller's, case and all: %v", err)
	}
}

// TestProtoInvalidUTF8NamesTheField: a protobuf attempt or outcome whose
// string is not UTF-8 is refused naming the field, as a JSON one is
// (proto.Unmarshal names none).
func TestProtoInvalidUTF8NamesTheField(t *testing.T) {
	bad := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(strings.Replace(string(b), "aXXb", "a\xff\xfeb", 1))
	}
	tests := []struct {
		name  string
		data  []byte
		field string
		dec   func([]byte) error
	}{
		{"username", bad(&pb.Attempt{Ip: "81.2.69.160", Username: "aXXb"}), "username", attemptProto},
		{"geo.country", bad(&pb.Attempt{Ip: "81.2.69.160", Geo: &pb.GeoHint{Country: "aXXb"}}), "geo.country", attemptProto},
		{"attribute value", bad(&pb.Attempt{Ip: "81.2.69.160", Attributes: map[string]string{"app": "aXXb"}}), "attributes.app", attemptProto},
		{"attribute key", bad(&pb.Attempt{Ip: "81.2.69.160", Attributes: map[string]string{"aXXb": "web"}}), "attributes", attemptProto},
		{"outcome's attempt", bad(&pb.ReportRequest{Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED, Attempt: &pb.Attempt{Ip: "81.2.69.160", UserId: "aXXb"}}), "attempt.user_id", outcomeProto},
	}
	for _, tt := range tests {
		err := tt.dec(tt.data)
		var we *wire.Error
		if !errors.As(err, &we) || we.Field != tt.field || !strings.Contains(err.Error(), tt.field+": invalid UTF-8") {
			t.Errorf("%s: %v, want a field error on %s", tt.name, err, tt.field)
		}
	}
}

func attemptProto(b []byte) error { _, err := wire.DecodeAttemptProto(b); return err }
func outcomeProto(b []byte) error { _, err := wire.DecodeOutcomeProto(b); return err }

// FuzzInvalidUTF8Field: on any bytes, InvalidUTF8Field does not panic, and
// it names a field of a message proto.Unmarshal accepts only when that
// field is not UTF-8, which Unmarshal would have refused: never.
func FuzzInvalidUTF8Field(f *testing.F) {
	b, _ := proto.Marshal(&pb.Attempt{Ip: "81.2.69.160", Username: "al", Attributes: map[string]string{"k": "v"}, Geo: &pb.GeoHint{Country: "FR"}})
	f.Add(b)
	f.Add([]byte(strings.Replace(string(b), "al", "\xff\xfe", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a pb.Attempt
		f := wire.InvalidUTF8Field(data, a.ProtoReflect().Descriptor())
		if proto.Unmarshal(data, &a) == nil && f != "" {
			t.Fatalf("a message proto.Unmarshal accepts has invalid UTF-8 in %s", f)
		}
	})
}

// TestZeroTimeRefused: an attempt whose time is given as Go's zero time
// (0001-01-01T00:00:00Z) is refused naming the field, as 1999 is, over
// JSON (HTTP, the streams) and protobuf (gRPC, the streams), instead of
// being decided as of now; an absent time is still now.
func TestZeroTimeRefused(t *testing.T) {
	now := time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC)
	eng := enginetest.New(t, engine.Options{Now: func() time.Time { return now }})
	protoAt := func(ts *timestamppb.Timestamp) []byte {
		return marshal(t, &pb.Attempt{Ip: "81.2.69.160", Time: ts})
	}
	zero, y1999 := time.Time{}, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name    string
		decode  func() (engine.Attempt, error)
		refused bool
	}{
		{"json zero", func() (engine.Attempt, error) {
			return wire.DecodeAttemptJSON([]byte(`{"ip": "81.2.69.160", "time": "0001-01-01T00:00:00Z"}`))
		}, true},
		{"json zero, another offset", func() (engine.Attempt, error) {
			return wire.DecodeAttemptJSON([]byte(`{"ip": "81.2.69.160", "time": "0001-01-01T02:00:00+02:00"}`))
		}, true},
		{"json 1999", func() (engine.Attempt, error) {
			return wire.DecodeAttemptJSON([]byte(`{"ip": "81.2.69.160", "time": "1999-12-31T23:59:59Z"}`))
		}, true},
		{"json absent", func() (engine.Attempt, error) { return wire.DecodeAttemptJSON([]byte(`{"ip": "81.2.69.160"}`)) }, false},
		{"proto zero", func() (engine.Attempt, error) { return wire.DecodeAttemptProto(protoAt(timestamppb.New(zero))) }, true},
		{"proto 1999", func() (engine.Attempt, error) { return wire.DecodeAttemptProto(protoAt(timestamppb.New(y1999))) }, true},
		{"proto absent", func() (engine.Attempt, error) { return wire.DecodeAttemptProto(protoAt(nil)) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.decode()
			var d engine.Decision
			if err == nil {
				d, err = eng.Score(context.Background(), a)
			}
			if !tt.refused {
				if err != nil || !d.Time.Equal(now) {
					t.Fatalf("decided at %v, %v; want now, %v", d.Time, err, now)
				}
				return
			}
			var fe *engine.FieldError
			if !errors.As(err, &fe) || fe.Field != "time" || !strings.Contains(fe.Msg, "out of range") {
				t.Fatalf("err %v (decided at %v); want the time refused, out of range", err, d.Time)
			}
		})
	}
}

// TestStrictJSONStopsAtTheValue: data after the message is that, whatever
// it holds; CheckJSON read on into it and named a field of it ("Ip:
// unknown field", "message: nested deeper than 100 levels"), a field the
// message does not have.
func TestStrictJSONStopsAtTheValue(t *testing.T) {
	msg := `{"ip":"81.2.69.160","user_id":"u"}`
	for _, after := range []string{
		` [1]`,
		` {"Ip":"1.1.1.1"}`,
		` {"ip":"1.1.1.1","ip":"1.1.1.1"}`,
		" \"a\xffb\"",
		" " + strings.Repeat("[", wire.MaxDepth+1) + strings.Repeat("]", wire.MaxDepth+1),
	} {
		_, err := wire.DecodeAttemptJSON([]byte(msg + after))
		var we *wire.Error
		if err == nil || errors.As(err, &we) && we.Field != "" || !strings.Contains(err.Error(), "after") {
			t.Errorf("%q after the message: %v, want data after the value refused", after, err)
		}
	}
}

// TestRequireBody: an empty message, or one of white space, is refused
// naming every field required, the first as the error's field; anything
// else is the decoder's.
func TestRequireBody(t *testing.T) {
	for _, tc := range []struct {
		data     string
		required []string
		msg      string
	}{
		{"", []string{"ip"}, "message: empty, want a JSON object with ip (required)"},
		{" \r\n\t", []string{"flow_id", "identity_id", "ip"}, "message: empty, want a JSON object with flow_id, identity_id and ip (required)"},
		{"", []string{"a", "b"}, "message: empty, want a JSON object with a and b (required)"},
		{"", nil, "message: empty, want a JSON object"},
		{"x", []string{"ip"}, ""},
		{"{}", []string{"ip"}, ""},
	} {
		err := wire.RequireBody([]byte(tc.data), "message", tc.required...)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.data, err)
			}
			continue
		}
		var we *wire.Error
		if !errors.As(err, &we) || we.Msg != tc.msg || len(tc.required) > 0 && we.Field != tc.required[0] || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("%q %q: %#v, want %q", tc.data, tc.required, err, tc.msg)
		}
	}
}

// TestNotAnObjectSaysSoFirst: a message that is not a JSON object is
// refused as that, whatever it holds: a top-level array nested past
// MaxDepth was "message: nested deeper than 100 levels", which named no
// field and said nothing of what to send; null was decoded as {}.
func TestNotAnObjectSaysSoFirst(t *testing.T) {
	for _, tc := range []struct{ data, kind string }{
		{`[]`, "array"},
		{strings.Repeat("[", wire.MaxDepth) + strings.Repeat("]", wire.MaxDepth), "array"},
		{strings.Repeat("[", wire.MaxDepth+1) + strings.Repeat("]", wire.MaxDepth+1), "array"},
		{" " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "array"},
		{strings.Repeat("[", 20000), "array"},
		{`[{"ip":"81.2.69.160"}]`, "array"},
		{`"81.2.69.160"`, "string"},
		{`"a` + "\xff" + `b"`, "string"},
		{`1.5`, "number"},
		{`false`, "bool"},
		{` null `, "null"},
	} {
		want := "message: want a JSON object, got JSON " + tc.kind
		_, errA := wire.DecodeAttemptJSON([]byte(tc.data))
		_, errO := wire.DecodeOutcomeJSON([]byte(tc.data))
		for _, err := range []error{errA, errO, wire.CheckJSON([]byte(tc.data))} {
			var we *wire.Error
			if !errors.As(err, &we) || we.Msg != want || we.Field != "" {
				t.Errorf("%.40q: %v, want %q", tc.data, err, want)
			}
		}
	}
	// An object is checked as it was.
	if err := wire.CheckJSON([]byte(`{"ip":"81.2.69.160"}`)); err != nil {
		t.Errorf("an object: %v", err)
	}
}
