package grpcapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

// fillDistinct sets every field of v to a distinct non-zero value.
func fillDistinct(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillDistinct(v.Field(i), n)
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		*n++
		v.SetInt(int64(*n))
	case reflect.Float64:
		*n++
		v.SetFloat(float64(*n) + 0.5)
	case reflect.String:
		*n++
		v.SetString("s" + strings.Repeat("x", *n))
	case reflect.Slice:
		*n++
		v.Set(reflect.ValueOf([]string{"a", "b"}))
	case reflect.Map:
		v.Set(reflect.ValueOf(map[string]string{"k": "v"}))
	}
}

// TestSignalsMirrorEnv: the Signals message has exactly engine.Env's
// fields, with its JSON names, and the conversion carries every value: the
// protobuf JSON of a converted decision's signals equals the engine's JSON.
func TestSignalsMirrorEnv(t *testing.T) {
	var env engine.Env
	n := 0
	fillDistinct(reflect.ValueOf(&env).Elem(), &n)
	d := engine.Decision{Signals: env, Time: time.Unix(1700000000, 5)}
	got, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(decisionToPB(&d).Signals)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		for k := range w {
			if !reflect.DeepEqual(g[k], w[k]) {
				t.Errorf("signals.%s:\nproto  %v\nengine %v", k, g[k], w[k])
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("signals.%s is in the proto only", k)
			}
		}
	}
}

// TestDecisionToPB checks the fields around the signals.
func TestDecisionToPB(t *testing.T) {
	at := time.Date(2026, 5, 9, 11, 0, 0, 123, time.UTC)
	d := engine.Decision{
		DecisionID: "d", AttemptID: "a", Tenant: "t", Time: at, Action: engine.ActionStepUp, Score: 60, Alert: true,
		Reasons:      []engine.Reason{{RuleID: "r1", Action: engine.ActionNone, Score: 20, Message: "m", Tags: []string{"x"}, Alert: true}},
		Shadow:       []engine.Reason{{RuleID: "s1", Action: engine.ActionDeny}},
		RulesVersion: "v",
	}
	p := decisionToPB(&d)
	if p.DecisionId != "d" || p.AttemptId != "a" || p.Tenant != "t" || !p.Time.AsTime().Equal(at) || p.Action != pb.Action_ACTION_STEP_UP ||
		p.Score != 60 || !p.Alert || p.RulesVersion != "v" || len(p.Reasons) != 1 || p.Reasons[0].Rule != "r1" ||
		p.Reasons[0].Action != pb.Action_ACTION_UNSPECIFIED || !p.Reasons[0].Alert || p.Shadow[0].Action != pb.Action_ACTION_DENY {
		t.Fatalf("%v", p)
	}
}

// TestEnumsMatchEngine: the protobuf enums' numbers are the engine's, so
// conversion is a cast.
func TestEnumsMatchEngine(t *testing.T) {
	for a := engine.ActionAllow; a <= engine.ActionDeny; a++ {
		if name := pb.Action(a).String(); name != "ACTION_"+strings.ToUpper(a.String()) {
			t.Errorf("action %v is %s", a, name)
		}
	}
	for r := engine.ResultUnknown; r <= engine.ResultNoSuchUser; r++ {
		if name := pb.Result(r).String(); name != "RESULT_"+strings.ToUpper(r.String()) {
			t.Errorf("result %v is %s", r, name)
		}
	}
	for o := engine.LoginSucceeded; o <= engine.ConfirmedLegit; o++ {
		if name := pb.Outcome(o).String(); name != "OUTCOME_"+strings.ToUpper(o.String()) {
			t.Errorf("outcome %v is %s", o, name)
		}
	}
}

// TestAttemptMirrorsEngine: every field of engine.Attempt has a protobuf
// field of the same name, and the conversion carries it; a field the
// request sets (json "-": BeforePassword) is ScoreRequest's.
func TestAttemptMirrorsEngine(t *testing.T) {
	fields := pb.File_riskgate_v1_risk_proto.Messages().ByName("Attempt").Fields()
	request := pb.File_riskgate_v1_risk_proto.Messages().ByName("ScoreRequest").Fields()
	at := reflect.TypeOf(engine.Attempt{})
	n := 0
	for i := range at.NumField() {
		name, _, _ := strings.Cut(at.Field(i).Tag.Get("json"), ",")
		if name == "-" {
			if snake := "before_password"; at.Field(i).Name != "BeforePassword" || request.ByName(protoreflect.Name(snake)) == nil {
				t.Errorf("Attempt.%s is set from no ScoreRequest field", at.Field(i).Name)
			}
			continue
		}
		n++
		if fields.ByName(protoreflect.Name(name)) == nil {
			t.Errorf("Attempt.%s has no protobuf field", name)
		}
	}
	if fields.Len() != n {
		t.Errorf("protobuf Attempt has %d fields, engine.Attempt %d", fields.Len(), n)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lat, lon := 1.5, 2.5
	p := &pb.Attempt{
		Tenant: "t", AttemptId: "a", Time: timestamppb.New(when), UserId: "u", Username: "n", Ip: "192.0.2.1",
		UserAgent: "ua", DeviceId: "d", PasswordSha1: strings.Repeat("a", 40), Result: pb.Result_RESULT_NO_SUCH_USER,
		Geo: &pb.GeoHint{Country: "FR", Lat: &lat, Lon: &lon}, Channel: "web", Attributes: map[string]string{"k": "v"},
	}
	a, err := attemptFromPB(p, "attempt.")
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Attempt{
		Tenant: "t", AttemptID: "a", Time: when, UserID: "u", Username: "n", IP: "192.0.2.1", UserAgent: "ua", DeviceID: "d",
		PasswordSHA1: strings.Repeat("a", 40), Result: engine.ResultNoSuchUser, Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon},
		Channel: "web", Attributes: map[string]string{"k": "v"},
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got  %+v\nwant %+v", a, want)
	}
	if _, err := attemptFromPB(&pb.Attempt{Result: 9}, "attempt."); err == nil || !strings.Contains(err.Error(), "attempt.result") {
		t.Errorf("bad result: %v", err)
	}
	if _, err := attemptFromPB(&pb.Attempt{Time: &timestamppb.Timestamp{Nanos: -1}}, "attempt."); err == nil || !strings.Contains(err.Error(), "attempt.time") {
		t.Errorf("bad time: %v", err)
	}
	if _, err := attemptFromPB(nil, "attempt."); err == nil || !strings.HasPrefix(err.Error(), "attempt:") {
		t.Errorf("no attempt: %v", err)
	}
}

// TestLevelsCoverEveryMethod: every method of both services, from their
// service descriptors, maps to a service operation and so has an auth
// level: none is public by omission.
func TestLevelsCoverEveryMethod(t *testing.T) {
	for _, sd := range []struct {
		name    string
		methods []string
	}{
		{pb.RiskService_ServiceDesc.ServiceName, methodNames(pb.RiskService_ServiceDesc.Methods)},
		{pb.RulesService_ServiceDesc.ServiceName, methodNames(pb.RulesService_ServiceDesc.Methods)},
	} {
		for _, m := range sd.methods {
			if op, ok := OpOf("/" + sd.name + "/" + m); !ok || !op.Valid() {
				t.Errorf("%s/%s has no auth level", sd.name, m)
			}
		}
	}
}
