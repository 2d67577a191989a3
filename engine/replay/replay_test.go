package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/enginetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func newEngine(t testing.TB) *engine.Engine {
	return enginetest.New(t, engine.Options{NewID: engine.SeededIDs(1)})
}

const scenario = "../../testdata/scenarios/basic.jsonl"

func runScenario(t *testing.T) ([]byte, *replay.Summary) {
	t.Helper()
	in, err := os.Open(scenario)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	sum, err := replay.Run(context.Background(), newEngine(t), in, &out, replay.Options{AutoOutcomes: true, NoSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), sum
}

func TestScenarioDecisions(t *testing.T) {
	out, sum := runScenario(t)
	got := map[string]replay.Result{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r replay.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got[r.AttemptID] = r
		order = append(order, r.AttemptID)
	}
	if len(order) != 49 {
		t.Fatalf("%d decisions, want one per attempt (49)", len(order))
	}
	if order[0] != "alice-0" || order[len(order)-1] != "alice-london" {
		t.Errorf("decisions out of input order: first %s last %s", order[0], order[len(order)-1])
	}
	has := func(id, rule string) bool {
		for _, r := range got[id].Reasons {
			if r.RuleID == rule {
				return true
			}
		}
		return false
	}
	for id, r := range got {
		if r.Label == "legit" && r.Action != engine.ActionAllow {
			t.Errorf("legit %s: %s %v", id, r.Action, r.Reasons)
		}
	}
	if a := got["stuff-14"]; a.Action != engine.ActionDeny || !has("stuff-14", "stuffing-address-burst") {
		t.Errorf("end of the stuffing burst: %s %v", a.Action, a.Reasons)
	}
	if a := got["ato-1"]; a.Action != engine.ActionStepUp || !has("ato-1", "new-device-new-country") {
		t.Errorf("account takeover: %s %v", a.Action, a.Reasons)
	}
	if a := got["hijack-1"]; a.Action != engine.ActionStepUp || !has("hijack-1", "impossible-travel") {
		t.Errorf("session hijack: %s %v", a.Action, a.Reasons)
	}
	if has("alice-london", "impossible-travel") {
		t.Error("a train trip was called impossible travel")
	}
	if got["bob-13"].Label != "legit" {
		t.Error("label not carried to the decision")
	}
	legit := sum.Labels["legit"]
	if legit == nil || legit.Total != 32 || legit.Allow != 32 || sum.LegitFriction != 0 {
		t.Errorf("legit summary %+v friction %v", legit, sum.LegitFriction)
	}
	if st := sum.Labels["credential_stuffing"]; st == nil || st.Total != 15 || st.StoppedRate != 1 {
		t.Errorf("stuffing summary %+v", st)
	}
}

// TestScenarioGolden pins the whole output: a change in any decision,
// score, reason or id shows up as a diff. Run with -update to accept one.
func TestScenarioGolden(t *testing.T) {
	out, _ := runScenario(t)
	// The rules' version is a hash of the rule file: editing a comment
	// changes it without changing a decision.
	out = regexp.MustCompile(`"rules_version":"[^"]*"`).ReplaceAll(out, []byte(`"rules_version":"(default)"`))
	golden := strings.TrimSuffix(scenario, ".jsonl") + ".golden.jsonl"
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		gl, wl := strings.Split(string(out), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs from %s (rerun with -update if intended):\n got %s\nwant %s", i+1, golden, gl[i], wl[i])
			}
		}
		t.Fatalf("output has %d lines, golden %d", len(gl), len(wl))
	}
}

func TestReplayErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4"}` + "\n" + `{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4", "colour":"red"}`, "line 2: json: unknown field \"colour\""},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4"}` + "\n\n" + `{"time":"2026-05-04T08:00:00Z","ip":"999.1.1.1"}`, "line 3: ip: not an IPv4 or IPv6 address"},
		{`not json`, "line 1:"},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","result":"maybe"}`, "line 1:"},
		// Without its time, an attempt would be decided at the wall
		// clock's: two replays would differ.
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4"}` + "\n" + `{"ip":"1.2.3.4"}`, "line 2: time: required"},
		{`{"time":null,"ip":"1.2.3.4"}`, "line 1: time: required"},
		// Go's zero time was given, not left out: it is out of range, in
		// the scoring API's words.
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4"}` + "\n" + `{"time":"0001-01-01T00:00:00Z","ip":"1.2.3.4"}`, "line 2: time: year 1 out of range"},
		{`{"time":"1999-12-31T23:59:59Z","ip":"1.2.3.4"}`, "line 1: time: year 1999 out of range"},
		// Type errors are named as the line has them, without Go types.
		{`[1,2]`, "line 1: want a JSON object, got JSON array"},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","attributes":{"a":1}}`, "line 1: attributes: want a JSON string, got JSON number"},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","geo":{"lat":"x"}}`, "line 1: geo.lat: want a number, got JSON string"},
		// Any label but legit counts as an attack: a typo is refused.
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","label":"legit"}` + "\n" + `{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","label":"Legit"}`, "line 2: label \"Legit\": want legit or an attack's lower-case name"},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","label":"legitimate"}`, "line 1: label \"legitimate\": legitimate traffic is labelled legit"},
		{`{"time":"2026-05-04T08:00:00Z","ip":"1.2.3.4","label":"credential stuffing"}`, "line 1: label \"credential stuffing\""},
	}
	for _, tt := range tests {
		_, err := replay.Run(context.Background(), newEngine(t), strings.NewReader(tt.in), &bytes.Buffer{}, replay.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("replay of %q: %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestOutcomeLinesReachTheEngine(t *testing.T) {
	in := `{"attempt_id":"a1","time":"2026-03-02T10:00:00Z","user_id":"u1","ip":"81.2.69.1","result":"unknown"}
{"outcome":{"attempt_id":"a1","outcome":"login_failed"}}
{"attempt_id":"a2","time":"2026-03-02T10:01:00Z","user_id":"u1","ip":"81.2.69.1","result":"unknown"}
`
	var out bytes.Buffer
	if _, err := replay.Run(context.Background(), newEngine(t), strings.NewReader(in), &out, replay.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var d replay.Result
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Signals.Account.Failures1h != 1 {
		t.Errorf("the reported failure is not in the windows: %+v", d.Signals.Account)
	}
}

// An outcome line that names its attempt by attempt_id reaches the decision
// in the attempt's tenant without repeating the tenant.
func TestOutcomeLineTakesTheAttemptsTenant(t *testing.T) {
	in := `{"tenant":"acme","attempt_id":"a1","time":"2026-03-02T10:00:00Z","user_id":"u1","ip":"81.2.69.1","result":"unknown"}
{"outcome":{"attempt_id":"a1","outcome":"login_failed"}}
{"tenant":"acme","attempt_id":"a2","time":"2026-03-02T10:01:00Z","user_id":"u1","ip":"81.2.69.1","result":"unknown"}
`
	var out bytes.Buffer
	if _, err := replay.Run(context.Background(), newEngine(t), strings.NewReader(in), &out, replay.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var d replay.Result
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Signals.Account.Failures1h != 1 {
		t.Errorf("the reported failure is not in the tenant's windows: %+v", d.Signals.Account)
	}
}
