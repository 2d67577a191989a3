// Package wire decodes attempts and outcomes from the bytes a transport
// carries: JSON exactly as POST /v1/score and POST /v1/outcome take it,
// and the protobuf messages of riskgate.v1. Transports that hold a whole
// message (Kafka records, files) use it, so that a message means the same
// whichever way it arrives; a test keeps it in step with the HTTP API.
//
// Decoding is strict: unknown fields, trailing data and oversized input are
// errors, and every error names the field when there is one. The engine
// then validates the values (Score and Report name the field too).
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

// MaxMessage bounds an attempt or outcome message, as the HTTP API bounds
// a request body: an attempt at its field limits is about 12 KiB of JSON.
const MaxMessage = 64 << 10

// Error is a message that could not be decoded. It wraps
// engine.ErrInvalid, as the engine's validation errors do.
type Error struct {
	Field string // JSON name of the offending field, when known
	Msg   string
	// TooLarge is set when the message exceeds MaxMessage.
	TooLarge bool
}

func (e *Error) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, engine.ErrInvalid) hold.
func (e *Error) Unwrap() error { return engine.ErrInvalid }

// AttemptJSON is engine.Attempt as it arrives: enums and times as strings,
// so that a bad value is reported with its field name (encoding/json does
// not name the field of a failing UnmarshalText).
type AttemptJSON struct {
	Tenant       string            `json:"tenant"`
	AttemptID    string            `json:"attempt_id"`
	Time         string            `json:"time"`
	UserID       string            `json:"user_id"`
	Username     string            `json:"username"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent"`
	DeviceID     string            `json:"device_id"`
	PasswordSHA1 string            `json:"password_sha1"`
	Result       string            `json:"result"`
	Geo          *engine.GeoHint   `json:"geo"`
	Channel      string            `json:"channel"`
	Attributes   map[string]string `json:"attributes"`
}

// Convert returns the attempt j holds; prefix is put before the field names of errors
// ("attempt." for the attempt inside an outcome or a rules test).
func (j *AttemptJSON) Convert(prefix string) (engine.Attempt, error) {
	a := engine.Attempt{
		Tenant: j.Tenant, AttemptID: j.AttemptID, UserID: j.UserID, Username: j.Username, IP: j.IP,
		UserAgent: j.UserAgent, DeviceID: j.DeviceID, PasswordSHA1: j.PasswordSHA1, Geo: j.Geo,
		Channel: j.Channel, Attributes: j.Attributes,
	}
	var err error
	if a.Result, err = engine.ParseResult(j.Result); err != nil {
		return a, &engine.FieldError{Field: prefix + "result", Msg: err.Error()}
	}
	if a.Time, err = parseTime(j.Time, prefix+"time"); err != nil {
		return a, err
	}
	if j.Time != "" && a.Time.IsZero() {
		return a, zeroTime(prefix + "time")
	}
	return a, nil
}

// zeroTime refuses an attempt's time given as 0001-01-01T00:00:00Z, Go's
// zero time, which the engine takes for "no time" and would replace with
// now, where it refuses any other year before 2000 (in the engine's
// words).
func zeroTime(field string) error {
	return &engine.FieldError{Field: field, Msg: "year 1 out of range"}
}

func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, &engine.FieldError{Field: field, Msg: "want an RFC 3339 time such as 2026-05-09T11:00:00Z"}
	}
	return t, nil
}

// OutcomeJSON is engine.Outcome as it arrives.
type OutcomeJSON struct {
	Tenant     string       `json:"tenant"`
	DecisionID string       `json:"decision_id"`
	Attempt    *AttemptJSON `json:"attempt"`
	Outcome    string       `json:"outcome"`
	Time       string       `json:"time"`
}

// outcomeRequired is the message of a missing outcome, as the engine says it.
const outcomeRequired = "required: login_succeeded, login_failed, step_up_passed, step_up_failed, confirmed_fraud or confirmed_legit"

// Convert returns the outcome j holds.
func (j *OutcomeJSON) Convert() (engine.Outcome, error) {
	o := engine.Outcome{Tenant: j.Tenant, DecisionID: j.DecisionID}
	if j.Outcome == "" {
		return o, &engine.FieldError{Field: "outcome", Msg: outcomeRequired}
	}
	var err error
	if o.Outcome, err = engine.ParseOutcomeKind(j.Outcome); err != nil {
		return o, &engine.FieldError{Field: "outcome", Msg: err.Error()}
	}
	if j.Attempt != nil {
		a, err := j.Attempt.Convert("attempt.")
		if err != nil {
			return o, err
		}
		o.Attempt = &a
	}
	if o.Time, err = parseTime(j.Time, "time"); err != nil {
		return o, err
	}
	return o, nil
}

// DecodeAttemptJSON decodes one attempt, as POST /v1/score takes it.
func DecodeAttemptJSON(data []byte) (engine.Attempt, error) {
	var j AttemptJSON
	if len(data) > MaxMessage || !j.DecodeQuick(data) {
		if err := decodeJSON(data, &j, "ip"); err != nil {
			return engine.Attempt{}, err
		}
	}
	return j.Convert("")
}

// DecodeOutcomeJSON decodes one outcome, as POST /v1/outcome takes it.
func DecodeOutcomeJSON(data []byte) (engine.Outcome, error) {
	var j OutcomeJSON
	if err := decodeJSON(data, &j, "outcome"); err != nil {
		return engine.Outcome{}, err
	}
	return j.Convert()
}

// decodeJSON reads exactly one JSON value into v; an empty message (or
// one of white space) is refused naming the field required, as the HTTP
// API refuses an empty body.
func decodeJSON(data []byte, v any, required string) error {
	if len(data) > MaxMessage {
		return &Error{Msg: fmt.Sprintf("message larger than %d bytes", MaxMessage), TooLarge: true}
	}
	if err := RequireBody(data, "message", required); err != nil {
		return err
	}
	if err := CheckJSON(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json names an unknown field without its path.
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			path := UnknownFieldPath(data, reflect.TypeOf(v), strings.Trim(name, `"`))
			return &Error{Field: path, Msg: engine.UnknownField(path)}
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Msg: "message: data after the JSON value"}
	}
	return nil
}

// RequireBody refuses an empty message (or one of white space only) of a
// kind that cannot do without the fields required, naming them: a caller
// who sent nothing (curl -X POST) learns what to send, not only that JSON
// was expected. what is the message as its reader calls it ("message",
// "request body"); the error's Field is the first field required. Every
// surface that reads a JSON object (the streams, the HTTP API, the Ory
// Kratos hook) says it the same way.
func RequireBody(data []byte, what string, required ...string) error {
	if len(bytes.TrimSpace(data)) > 0 {
		return nil
	}
	msg := what + ": empty, want a JSON object"
	if n := len(required); n > 0 {
		list := required[n-1]
		if n > 1 {
			list = strings.Join(required[:n-1], ", ") + " and " + list
		}
		msg += " with " + list + " (required)"
	}
	e := &Error{Msg: msg}
	if len(required) > 0 {
		e.Field = required[0]
	}
	return e
}

// JSONKind names the JSON a Go type decodes from, for error messages,
// which never name Go types (httpapi.attemptJSON, float64): engine.JSONKind.
func JSONKind(t reflect.Type) string { return engine.JSONKind(t) }

func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &Error{Msg: "message: empty, want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Msg: "message: truncated JSON"}
	case errors.As(err, &se):
		return &Error{Msg: fmt.Sprintf("message: invalid JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		if te.Field == "" {
			return &Error{Msg: "message: want a JSON object, got JSON " + te.Value}
		}
		return &Error{Field: te.Field, Msg: fmt.Sprintf("%s: want %s, got JSON %s", te.Field, JSONKind(te.Type), te.Value)}
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &Error{Field: name, Msg: engine.UnknownField(name)}
	}
	return &Error{Msg: "message: " + err.Error()}
}

// DecodeAttemptProto decodes a riskgate.v1.Attempt.
func DecodeAttemptProto(data []byte) (engine.Attempt, error) {
	if len(data) > MaxMessage {
		return engine.Attempt{}, &Error{Msg: fmt.Sprintf("message larger than %d bytes", MaxMessage), TooLarge: true}
	}
	var p pb.Attempt
	if err := proto.Unmarshal(data, &p); err != nil {
		if f := InvalidUTF8Field(data, p.ProtoReflect().Descriptor()); f != "" {
			return engine.Attempt{}, &Error{Field: f, Msg: f + ": invalid UTF-8"}
		}
		return engine.Attempt{}, &Error{Msg: "message: not a riskgate.v1.Attempt: " + err.Error()}
	}
	return AttemptFromProto(&p, "")
}

// DecodeOutcomeProto decodes a riskgate.v1.ReportRequest.
func DecodeOutcomeProto(data []byte) (engine.Outcome, error) {
	if len(data) > MaxMessage {
		return engine.Outcome{}, &Error{Msg: fmt.Sprintf("message larger than %d bytes", MaxMessage), TooLarge: true}
	}
	var p pb.ReportRequest
	if err := proto.Unmarshal(data, &p); err != nil {
		if f := InvalidUTF8Field(data, p.ProtoReflect().Descriptor()); f != "" {
			return engine.Outcome{}, &Error{Field: f, Msg: f + ": invalid UTF-8"}
		}
		return engine.Outcome{}, &Error{Msg: "message: not a riskgate.v1.ReportRequest: " + err.Error()}
	}
	return OutcomeFromProto(&p)
}

// AttemptFromProto converts an attempt. prefix is the attempt's path in
// its message ("attempt."), for field names in errors.
func AttemptFromProto(p *pb.Attempt, prefix string) (engine.Attempt, error) {
	if p == nil {
		return engine.Attempt{}, &engine.FieldError{Field: strings.TrimSuffix(prefix, "."), Msg: "required"}
	}
	a := engine.Attempt{
		Tenant: p.Tenant, AttemptID: p.AttemptId, UserID: p.UserId, Username: p.Username, IP: p.Ip,
		UserAgent: p.UserAgent, DeviceID: p.DeviceId, PasswordSHA1: p.PasswordSha1, Channel: p.Channel,
		Attributes: p.Attributes,
	}
	if p.Result < pb.Result_RESULT_UNKNOWN || p.Result > pb.Result_RESULT_NO_SUCH_USER {
		return a, &engine.FieldError{Field: prefix + "result", Msg: fmt.Sprintf("unknown value %d", p.Result)}
	}
	a.Result = engine.Result(p.Result)
	if p.Time != nil {
		t, err := TimeFromProto(p.Time, prefix+"time")
		if err != nil {
			return a, err
		}
		if t.IsZero() {
			return a, zeroTime(prefix + "time")
		}
		a.Time = t
	}
	if g := p.Geo; g != nil {
		a.Geo = &engine.GeoHint{Country: g.Country, Lat: g.Lat, Lon: g.Lon}
	}
	return a, nil
}

// OutcomeFromProto converts a ReportRequest.
func OutcomeFromProto(p *pb.ReportRequest) (engine.Outcome, error) {
	o := engine.Outcome{Tenant: p.Tenant, DecisionID: p.DecisionId}
	if p.Outcome < pb.Outcome_OUTCOME_UNSPECIFIED || p.Outcome > pb.Outcome_OUTCOME_CONFIRMED_LEGIT {
		return o, &engine.FieldError{Field: "outcome", Msg: fmt.Sprintf("unknown value %d", p.Outcome)}
	}
	o.Outcome = engine.OutcomeKind(p.Outcome)
	if p.Attempt != nil {
		a, err := AttemptFromProto(p.Attempt, "attempt.")
		if err != nil {
			return o, err
		}
		o.Attempt = &a
	}
	if p.Time != nil {
		t, err := TimeFromProto(p.Time, "time")
		if err != nil {
			return o, err
		}
		o.Time = t
	}
	return o, nil
}

// TimeFromProto converts a timestamp the caller set, refusing an invalid
// one with a FieldError naming field. 0001-01-01T00:00:00Z, time.Time's
// zero, is refused as the engine refuses any year before 2000: converted
// as it is, the engine took it for a time not given and stamped the
// attempt with the clock, where HTTP refused the same value.
func TimeFromProto(ts *timestamppb.Timestamp, field string) (time.Time, error) {
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, &engine.FieldError{Field: field, Msg: "not a valid timestamp"}
	}
	t := ts.AsTime()
	if t.IsZero() {
		return time.Time{}, &engine.FieldError{Field: field, Msg: "year 1 out of range"}
	}
	return t, nil
}
