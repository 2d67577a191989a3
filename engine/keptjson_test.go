package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// marshalKept is what decidedRecord wrote before appendKept, and what
// nodes of earlier versions read.
func marshalKept(t testing.TB, d *Decision, before bool) []byte {
	t.Helper()
	kept := keptDecision{Decision: *d, BeforePassword: &before}
	kept.Signals = Env{}
	js, err := json.Marshal(&kept)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return js
}

// checkKept fails unless appendKept writes json.Marshal's bytes for d, and
// they read back as d.
func checkKept(t testing.TB, d *Decision, before bool) {
	t.Helper()
	want := marshalKept(t, d, before)
	prefix := []byte("fp")
	got, ok := appendKept(prefix, d, before)
	if !ok {
		t.Fatalf("appendKept refused a decision json.Marshal writes: %s", want)
	}
	if !bytes.Equal(got[:len(prefix)], prefix) {
		t.Fatalf("appendKept overwrote what it appends to: %q", got)
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("appendKept wrote\n%s\njson.Marshal writes\n%s", got, want)
	}
	var back keptDecision
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("the record does not read back: %v\n%s", err, got)
	}
	// Strings and times read back as json.Marshal left them (invalid
	// UTF-8 replaced, a zone's seconds dropped): the bytes above are
	// the contract.
	if back.BeforePassword == nil || *back.BeforePassword != before || back.Score != d.Score || back.Action != d.Action || len(back.Reasons) != len(d.Reasons) {
		t.Fatalf("read back score %d, action %s, %d reasons, before_password %v; want %d, %s, %d, %v",
			back.Score, back.Action, len(back.Reasons), back.BeforePassword, d.Score, d.Action, len(d.Reasons), before)
	}
}

func TestAppendKept(t *testing.T) {
	at := time.Date(2026, 2, 10, 9, 0, 0, 123456789, time.UTC)
	reason := Reason{RuleID: "new-device", Action: ActionStepUp, Score: 40, Message: "first login from this device (Chrome on Windows)", Tags: []string{"ato", "device"}, Alert: true, Notify: "new_device"}
	cases := []struct {
		name   string
		d      Decision
		before bool
	}{
		{"ordinary allow", Decision{DecisionID: "01JKX5W6Q2", AttemptID: "a-1", Tenant: "acme", Time: at, Action: ActionAllow, Reasons: []Reason{}, RulesVersion: "sha256:ab12"}, false},
		{"nil reasons", Decision{DecisionID: "d", Time: at, Action: ActionAllow}, true},
		{"every field", Decision{DecisionID: "d", AttemptID: "a", Tenant: "t", Time: at, Action: ActionDeny, Score: -7,
			Reasons: []Reason{reason, {RuleID: "r2", Action: ActionNone, Score: 5, Message: ""}}, Shadow: []Reason{reason}, Alert: true,
			Notify: []string{"new_device", "new_country"}, RulesVersion: "v"}, true},
		{"empty slices omitted", Decision{DecisionID: "d", Time: at, Reasons: []Reason{{RuleID: "r", Tags: []string{}}}, Shadow: []Reason{}, Notify: []string{}}, false},
		{"escaped strings", Decision{DecisionID: "q\"uote\\", AttemptID: "<script>&", Tenant: "tab\there\n", Time: at,
			Reasons: []Reason{{RuleID: "r", Message: "São Paulo → 東京 \u2028 \x7f \x00 \xff bad"}}}, false},
		{"zone and no fraction", Decision{DecisionID: "d", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", -(9*3600+30*60)))}, false},
		{"year 0", Decision{DecisionID: "d", Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"signals dropped", Decision{DecisionID: "d", Time: at, Signals: Env{Attempt: AttemptEnv{UserID: "u", IP: "192.0.2.1"}, Geo: GeoEnv{Country: "FR"}}}, false},
		{"extreme score", Decision{DecisionID: "d", Time: at, Action: ActionStepUp, Score: math.MinInt32}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkKept(t, &c.d, c.before) })
	}
}

// TestAppendKeptRefusesWhatJSONRefuses: a time json.Marshal cannot write
// is not written either (decidedRecord then keeps no decision, as it did).
func TestAppendKeptRefusesWhatJSONRefuses(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600)),
	} {
		d := Decision{DecisionID: "d", Time: at}
		if _, err := json.Marshal(&keptDecision{Decision: d}); err == nil {
			t.Fatalf("json.Marshal wrote %v: the case tests nothing", at)
		}
		if got, ok := appendKept(nil, &d, false); ok {
			t.Errorf("appendKept wrote %s for %v, which json.Marshal refuses", got, at)
		}
	}
}

func FuzzAppendKept(f *testing.F) {
	f.Add("01JKX5W6Q2", "acme", "first login from this device", "ato", int64(1770714000123456789), int32(0), 40, uint8(2), true)
	f.Add("q\"\\<>&", "\u2028\u2029", "\x00\x1f\x7f\xc3\x28 São", "", int64(0), int32(-34200), -1, uint8(9), false)
	f.Add("", "", "", "", int64(math.MinInt64), int32(90000), math.MaxInt32, uint8(0), false)
	f.Fuzz(func(t *testing.T, id, tenant, message, tag string, unixNano int64, offset int32, score int, action uint8, flags bool) {
		at := time.Unix(0, unixNano).In(time.FixedZone("z", int(offset)))
		action %= uint8(len(actionNames)) // the only actions a decision holds, and json reads back
		d := Decision{DecisionID: id, AttemptID: tag + id, Tenant: tenant, Time: at, Action: Action(action), Score: score,
			Reasons: []Reason{{RuleID: tag, Action: Action(action), Score: -score, Message: message, Tags: []string{tag, message}, Alert: flags, Notify: tag}},
			Alert:   flags, RulesVersion: message}
		if flags {
			d.Shadow, d.Notify = d.Reasons, []string{tag}
		} else if len(message)%2 == 0 {
			d.Reasons = nil
		}
		kept := keptDecision{Decision: d, BeforePassword: &flags}
		if _, err := json.Marshal(&kept); err != nil {
			if got, ok := appendKept(nil, &d, flags); ok {
				t.Fatalf("json.Marshal refuses %v (%v); appendKept wrote %s", at, err, got)
			}
			return
		}
		checkKept(t, &d, flags)
	})
}
