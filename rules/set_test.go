package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func TestDefaultCompiles(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("default rules: %v", err)
	}
	if len(s.Rules()) < 10 {
		t.Errorf("only %d default rules", len(s.Rules()))
	}
	if th := s.Thresholds(); th.StepUp != 40 || th.Deny != 90 {
		t.Errorf("default thresholds %+v", th)
	}
}

func compile(t *testing.T, src string) (*Set, error) {
	t.Helper()
	return Compile(Source{Name: "r.yaml", Data: []byte(src)})
}

func TestCompileErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"yaml syntax", "rules:\n  - id: a\n   bad indent: [\n", []string{"r.yaml:"}},
		{"not a mapping", "- just a list\n", []string{"r.yaml:1: want a mapping"}},
		{"unknown top key", "rule:\n  - id: a\n", []string{"r.yaml:1:", "rule"}},
		{"unknown rule key", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    acton: deny\n", []string{"r.yaml:5:", "acton"}},
		{"undefined field", "rules:\n  - id: a\n    description: d\n    when: geo.impossible\n    action: deny\n", []string{"r.yaml:4:", `rule "a"`, "impossible"}},
		{"type mismatch", "rules:\n  - id: a\n    description: d\n    when: ip.failures_10m > \"x\"\n    action: deny\n", []string{"r.yaml:4:", "mismatched types"}},
		{"not bool", "rules:\n  - id: a\n    description: d\n    when: ip.failures_10m\n    action: deny\n", []string{"r.yaml:4:", "bool"}},
		{"block scalar line", "rules:\n  - id: a\n    description: d\n    when: |\n      ip.failures_10m > 1 &&\n      nope\n    action: deny\n", []string{"r.yaml:6:", "nope"}},
		{"missing when", "rules:\n  - id: a\n    description: d\n    action: deny\n", []string{"r.yaml:2:", "when: required"}},
		{"bad action", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    action: block\n", []string{"r.yaml:5:", "unknown action \"block\""}},
		{"bad mode", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    action: deny\n    mode: dry\n", []string{"mode:", "dry"}},
		{"no effect", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n", []string{"neither an action, a score nor a notify"}},
		{"bad id", "rules:\n  - id: Bad Id\n    description: d\n    when: \"true\"\n    action: deny\n", []string{"id \"Bad Id\""}},
		{"no description", "rules:\n  - id: a\n    when: \"true\"\n    action: deny\n", []string{"description: required"}},
		{"duplicate id", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    action: deny\n  - id: a\n    description: d\n    when: \"true\"\n    action: deny\n", []string{"r.yaml:6:", "duplicate id", "r.yaml:2"}},
		{"score range", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    score: 500\n", []string{"score 500 out of range"}},
		{"thresholds order", "thresholds: {step_up: 90, deny: 40}\nrules:\n  - id: a\n    description: d\n    when: \"true\"\n    score: 5\n", []string{"thresholds"}},
		{"empty", "", []string{"empty rule file"}},
		{"no rules", "thresholds: {step_up: 40, deny: 80}\n", []string{"no rules"}},
		{"now disabled", "rules:\n  - id: a\n    description: d\n    when: now().Hour() > 3\n    action: deny\n", []string{"r.yaml:4:", "now"}},
		{"bad reason", "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    action: deny\n    reason: 1 + 1\n", []string{"r.yaml:6:", "reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := compile(t, tt.src)
			if err == nil {
				t.Fatalf("compiled: %d rules", len(s.Rules()))
			}
			var el ErrorList
			if !errors.As(err, &el) {
				t.Errorf("error is %T, want ErrorList", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	_, err := compile(t, "rules:\n  - id: a\n    description: d\n    when: nope1\n    action: deny\n  - id: b\n    description: d\n    when: nope2\n    action: deny\n")
	var el ErrorList
	if !errors.As(err, &el) || len(el) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
}

func TestEvaluate(t *testing.T) {
	s, err := compile(t, `
thresholds: {step_up: 30, deny: 60}
rules:
  - id: new-device
    description: New device.
    when: device.new
    score: 20
  - id: new-country
    description: New country.
    when: geo.new_country
    score: 20
    tags: [geo]
  - id: tor
    description: Tor.
    when: ip.tor
    action: deny
    alert: true
  - id: trial
    description: Trial rule.
    when: device.new
    action: deny
    score: 100
    mode: shadow
  - id: known-device-discount
    description: Known device.
    when: device.known
    score: -50
  - id: speed
    description: Speed.
    when: geo.speed_kmh > 900
    score: 5
    reason: 'sprintf("%.0f km/h", geo.speed_kmh)'
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     engine.Env
		action  engine.Action
		score   int
		reasons []string
		shadow  []string
		alert   bool
	}{
		{"nothing", engine.Env{}, engine.ActionNone, 0, nil, nil, false},
		{"one novelty", engine.Env{Device: engine.DeviceEnv{New: true}}, engine.ActionNone, 20, []string{"new-device"}, []string{"trial"}, false},
		{"two novelties reach step_up", engine.Env{Device: engine.DeviceEnv{New: true}, Geo: engine.GeoEnv{NewCountry: true}}, engine.ActionStepUp, 40, []string{"new-device", "new-country"}, []string{"trial"}, false},
		{"rule action is a floor", engine.Env{IP: engine.IPEnv{Tor: true}}, engine.ActionDeny, 0, []string{"tor"}, nil, true},
		{"negative score clamps at 0", engine.Env{Device: engine.DeviceEnv{Known: true}}, engine.ActionNone, 0, []string{"known-device-discount"}, nil, false},
		{"reason expression", engine.Env{Geo: engine.GeoEnv{SpeedKMH: 1234.4}}, engine.ActionNone, 5, []string{"speed"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v engine.Verdict
			s.Evaluate(&tt.env, &v)
			if v.Action != tt.action || v.Score != tt.score || v.Alert != tt.alert {
				t.Errorf("action %s score %d alert %v, want %s %d %v", v.Action, v.Score, v.Alert, tt.action, tt.score, tt.alert)
			}
			if got := ids(v.Reasons); strings.Join(got, ",") != strings.Join(tt.reasons, ",") {
				t.Errorf("reasons %v, want %v", got, tt.reasons)
			}
			if got := ids(v.Shadow); strings.Join(got, ",") != strings.Join(tt.shadow, ",") {
				t.Errorf("shadow %v, want %v", got, tt.shadow)
			}
			if len(v.Errors) != 0 {
				t.Errorf("errors: %v", v.Errors)
			}
		})
	}
	var v engine.Verdict
	env := engine.Env{Geo: engine.GeoEnv{SpeedKMH: 1234.4}}
	s.Evaluate(&env, &v)
	if v.Reasons[0].Message != "1234 km/h" {
		t.Errorf("reason message %q", v.Reasons[0].Message)
	}
}

func ids(rs []engine.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.RuleID)
	}
	return out
}

func TestRuntimeErrorCountsAsNotMatched(t *testing.T) {
	s, err := compile(t, `
rules:
  - id: regex-from-input
    description: A pattern taken from the attempt, invalid at run time.
    when: attempt.user_agent matches attempt.username
    action: deny
  - id: fine
    description: Fine.
    when: "true"
    score: 1
`)
	if err != nil {
		t.Fatal(err)
	}
	var v engine.Verdict
	env := engine.Env{Attempt: engine.AttemptEnv{Username: "(", UserAgent: "x"}}
	s.Evaluate(&env, &v)
	if v.Action == engine.ActionDeny || len(v.Errors) != 1 || v.Errors[0].RuleID != "regex-from-input" {
		t.Errorf("action %s errors %v: a failing rule must count as not matched and be reported", v.Action, v.Errors)
	}
	if got := ids(v.Reasons); len(got) != 1 || got[0] != "fine" {
		t.Errorf("reasons %v: a rule failing must not stop the others", got)
	}
}

func TestVersion(t *testing.T) {
	a, _ := compile(t, "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    score: 1\n")
	b, _ := compile(t, "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    score: 2\n")
	c, _ := compile(t, "version: v42\nrules:\n  - id: a\n    description: d\n    when: \"true\"\n    score: 2\n")
	if a.Version() == b.Version() || !strings.HasPrefix(a.Version(), "sha256:") {
		t.Errorf("versions %q %q", a.Version(), b.Version())
	}
	if !strings.HasPrefix(c.Version(), "v42@sha256:") {
		t.Errorf("explicit version %q", c.Version())
	}
}

// TestVersionIsContent: the version is a function of the rules' content
// only: the same bytes under another name (embedded, a folder copy, /tmp)
// have the same version; an edit that keeps the version: label does not.
func TestVersionIsContent(t *testing.T) {
	def := DefaultSource()
	embedded, err := Compile(def)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := Compile(Source{Name: "/tmp/elsewhere/rules.yaml", Data: def.Data})
	if err != nil {
		t.Fatal(err)
	}
	if embedded.Version() != copied.Version() {
		t.Errorf("the same rules have versions %q (embedded) and %q (a copy)", embedded.Version(), copied.Version())
	}
	const labelled = "version: strict-2026-05\nrules:\n  - id: a\n    description: d\n    when: geo.new_country\n    action: deny\n    score: %d\n"
	v90, _ := compile(t, fmt.Sprintf(labelled, 90))
	v85, _ := compile(t, fmt.Sprintf(labelled, 85))
	if v90.Version() == v85.Version() || !strings.HasPrefix(v85.Version(), "strict-2026-05@sha256:") {
		t.Errorf("score 90 and 85 under one label: %q, %q", v90.Version(), v85.Version())
	}
}

func TestEvaluateAllocations(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	env := engine.Env{User: engine.UserEnv{Known: true}, Device: engine.DeviceEnv{Known: true}, Geo: engine.GeoEnv{Known: true, Country: "FR"}}
	allocs := testing.AllocsPerRun(200, func() {
		var v engine.Verdict
		s.Evaluate(&env, &v)
	})
	// No rule matches, so there are no reasons to allocate.
	if allocs > 0 {
		t.Errorf("Evaluate with no match allocates %v times", allocs)
	}
}

func TestReferenceIsCurrent(t *testing.T) {
	want := Reference()
	got, err := readRepoFile("../docs/rules-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Error("docs/rules-reference.md is stale: run go run ./cmd/riskgate rules fields > docs/rules-reference.md")
	}
	for _, f := range []string{"`geo.impossible_travel`", "`ip.failures_10m`", "`subnet.usernames_1h`", "`password.accounts_24h`", "`state.available`"} {
		if !strings.Contains(want, f) {
			t.Errorf("reference lacks %s", f)
		}
	}
}

func TestEnvValueMatchesCopy(t *testing.T) {
	env := engine.Env{IP: engine.IPEnv{Lists: []string{"a", "b"}}, Geo: engine.GeoEnv{Country: "FR", SpeedKMH: 1234.5}}
	env.IP.Failures10m = 300
	env.Attempt.Attributes = map[string]string{"app": "web"}
	boxed := envValue(&env)
	got, ok := boxed.(engine.Env)
	if !ok {
		t.Fatalf("boxed value has type %T", boxed)
	}
	if got.Geo != env.Geo || got.IP.Failures10m != 300 || len(got.IP.Lists) != 2 || got.Attempt.Attributes["app"] != "web" {
		t.Errorf("boxed value differs: %+v", got)
	}
	s, err := compile(t, `
rules:
  - id: a
    description: d
    when: ip.failures_10m > 255 && geo.speed_kmh > 1234.4 && "b" in ip.lists && attempt.attributes["app"] == "web" && geo.country == "FR"
    action: deny
    reason: 'sprintf("%s %.1f %d", geo.country, geo.speed_kmh, ip.failures_10m)'
`)
	if err != nil {
		t.Fatal(err)
	}
	var v engine.Verdict
	s.Evaluate(&env, &v)
	if v.Action != engine.ActionDeny || v.Reasons[0].Message != "FR 1234.5 300" {
		t.Errorf("evaluation on the uncopied env: %s %+v", v.Action, v.Reasons)
	}
	// The reason must not change when the env is reused afterwards.
	msg := v.Reasons[0].Message
	env.Geo.Country = "XX"
	if v.Reasons[0].Message != msg {
		t.Error("a reason refers into the environment")
	}
}

// TestDefaultThresholds (issue 10 item 17): a file without thresholds
// decides as the built-in rules do, at the thresholds the reference
// documents.
func TestDefaultThresholds(t *testing.T) {
	def, err := Compile(DefaultSource())
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Thresholds(); got != DefaultThresholds() {
		t.Errorf("the built-in rules use %+v, the default is %+v", got, DefaultThresholds())
	}
	if DefaultThresholds() != (Thresholds{StepUp: 40, Deny: 90}) {
		t.Errorf("defaults %+v, want step_up 40, deny 90", DefaultThresholds())
	}
	bare, err := Compile(Source{Name: "bare.yaml", Data: []byte("rules:\n  - id: r\n    description: R.\n    when: \"true\"\n    score: 85\n")})
	if err != nil {
		t.Fatal(err)
	}
	if bare.Thresholds() != DefaultThresholds() {
		t.Errorf("a file without thresholds: %+v", bare.Thresholds())
	}
	var env engine.Env
	var v engine.Verdict
	bare.Evaluate(&env, &v)
	if v.Action != engine.ActionStepUp {
		t.Errorf("score 85 without thresholds: %v, want step_up (deny from 90)", v.Action)
	}
	if ref := Reference(); !strings.Contains(ref, "step_up: 40\n  deny: 90") {
		t.Error("the reference does not document the default thresholds")
	}
}

// TestSyntaxErrorLines: a rule file's YAML syntax errors name their line,
// on the first line too, where yaml's own text has none, and for the
// parser's errors, whose line yaml counts from 0; so do the errors of
// anchors and aliases, which have none in yaml's text.
func TestSyntaxErrorLines(t *testing.T) {
	const rule = "rules:\n  - id: a\n    description: d\n    when: device.new\n"
	for _, tt := range []struct{ src, want string }{
		{"\trules:\n", "r.yaml:1: found character that cannot start any token (a tab: YAML indents with spaces)"},
		{rule + "\t  score: 5\n", "r.yaml:5: found a tab character that violates indentation (YAML indents with spaces)"},
		{rule + "  - id: 'b'\n\t  when: x\n", "r.yaml:6: found character that cannot start any token (a tab"},
		{rule + "    score: 5\n\t- id: b\n", "r.yaml:6: found a tab character that violates indentation"},
		{"version: \"x\n" + rule, "r.yaml:1: found unexpected end of stream: the quoted string opened on this line is never closed"},
		{rule + "    reason: 'x\n", "r.yaml:5: found unexpected end of stream"},
		{rule + "   score: 5\n", "r.yaml:5: did not find expected '-' indicator"},
		{"settings:\n  default_mode: shadow\n  x: 1\n y: 2\n" + rule, "r.yaml:4: did not find expected key"},
		{rule + "  action: deny\n", "r.yaml:5: did not find expected '-' indicator"},
		{rule + "    tags: [a, b\n  - id: b\n", "r.yaml:5: did not find expected ',' or ']'"},
		{"rules: a: b\n", "r.yaml:1: mapping values are not allowed in this context"},
		// Anchors and aliases: yaml gives these no line at all.
		{rule + "    score: *nope\n", "r.yaml:5: unknown anchor 'nope' referenced"},
		{"version: &v x\n" + rule + "    <<: *v\n", "r.yaml:6: map merge requires map or sequence of maps as the value"},
		{rule + "  - &r\n    id: b\n    <<: *r\n", "r.yaml:7: anchor 'r' value contains itself"},
	} {
		_, err := compile(t, tt.src)
		_, oerr := CompileOverlay("acme", Source{Name: "r.yaml", Data: []byte(tt.src)})
		for what, err := range map[string]error{"shared": err, "overlay": oerr} {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %q: %v, want %q", what, tt.src, err, tt.want)
			}
		}
	}
}

// A rule file holds one YAML document: a second ("---") is refused at its
// line, on every path that reads rule files, rather than dropped with its
// rules; a leading "---" and a closing "..." are one document.
func TestOneDocumentPerFile(t *testing.T) {
	const rule = "rules:\n  - id: a\n    description: d\n    when: device.new\n    score: 5\n"
	const oneDoc = "a rule file holds one YAML document"
	tests := []struct {
		name, src string
		want      string // "" compiles; else a substring of the error
	}{
		{"one", rule, ""},
		{"leading marker", "---\n" + rule, ""},
		{"closing marker", rule + "...\n", ""},
		{"second with rules", rule + "---\n" + rule, "r.yaml:6: " + oneDoc},
		{"second after a comment", rule + "# more\n--- {rules: []}\n", "r.yaml:7: " + oneDoc},
		{"empty second", rule + "---\n", "r.yaml:6: " + oneDoc},
		{"two markers", "---\n" + rule + "---\n" + rule, "r.yaml:7: " + oneDoc},
		{"bad second", rule + "---\n- : :\n  x: [\n", "r.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, tt.src)
			_, oerr := CompileOverlay("acme", Source{Name: "r.yaml", Data: []byte(tt.src)})
			for what, err := range map[string]error{"shared": err, "overlay": oerr} {
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("%s: %v", what, err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
					t.Errorf("%s: error %v, want %q", what, err, tt.want)
				}
			}
		})
	}

	// From a file, and through a manager's validate and put (the API's).
	srcs, err := LoadFiles("testdata/two-documents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(srcs...); err == nil || !strings.Contains(err.Error(), "testdata/two-documents.yaml:7: "+oneDoc) {
		t.Errorf("file: %v", err)
	}
	m, err := NewManager(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srcs[0].Name = "two.yaml" // as the API names it
	if _, err := m.Validate(srcs); err == nil || !strings.Contains(err.Error(), oneDoc) {
		t.Errorf("validate: %v", err)
	}
	if _, err := m.Put("", srcs); err == nil || !strings.Contains(err.Error(), oneDoc) {
		t.Errorf("put: %v", err)
	}
	if _, err := m.PutTenant("acme", "", srcs); err == nil || !strings.Contains(err.Error(), oneDoc) {
		t.Errorf("tenant put: %v", err)
	}
}

// A fraction where a whole number is wanted is refused at its line: the
// decoder truncated it (99.9 to 99; -0.5 to 0, then "neither an action, a
// score nor a notify").
func TestScoreWantsAWholeNumber(t *testing.T) {
	rule := func(score string) string {
		return "rules:\n  - id: a\n    description: d\n    when: device.new\n    score: " + score + "\n"
	}
	tests := []struct {
		src  string
		want string // "" compiles
	}{
		{rule("99"), ""},
		{rule("-5"), ""},
		{rule("99.9"), "r.yaml:5: rule \"a\": score: want a whole number, got `99.9`"},
		{rule("1.5"), "r.yaml:5: rule \"a\": score: want a whole number, got `1.5`"},
		{rule("-0.5"), "r.yaml:5: rule \"a\": score: want a whole number, got `-0.5`"},
		{rule("1e1"), "score: want a whole number"},
		{rule(".inf"), "score: want a whole number"},
		{rule("high"), "score: want a whole number, got `high`"},
		{"thresholds: {step_up: 40.5, deny: 90}\n" + rule("5"), "r.yaml:1: thresholds.step_up: want a whole number, got `40.5`"},
	}
	for _, tt := range tests {
		_, err := compile(t, tt.src)
		_, oerr := CompileOverlay("acme", Source{Name: "r.yaml", Data: []byte(tt.src)})
		for what, err := range map[string]error{"shared": err, "overlay": oerr} {
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%s: %q: %v", what, tt.src, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%s: %q: error %v, want %q", what, tt.src, err, tt.want)
			}
		}
	}
}

// A version: label is 1-64 letters, digits, '.', '_' or '-': it goes into
// rules_version (where " + tenant:acme@..." would impersonate an overlay),
// the ETag (which turned a newline into a space, so that If-Match never
// matched) and a metrics label.
func TestVersionLabel(t *testing.T) {
	const rules = "rules:\n  - id: a\n    description: d\n    when: device.new\n    score: 5\n"
	tests := []struct {
		label string // as written in the file
		ok    bool
	}{
		{"strict-2026-05", true},
		{"acme-2026-06", true},
		{"v42", true},
		{"2", true},
		{"release_1.2.3", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("a", 300), false},
		{`"a\nb"`, false},
		{`"x + tenant:acme@acme-2026-06@sha256:f373da0b3355"`, false},
		{`"a b"`, false},
		{"-a", false},
		{".a", false},
		{`"a\"b"`, false},
		{"a/b", false},
		{"é", false},
	}
	for _, tt := range tests {
		src := "# a comment\nversion: " + tt.label + "\n" + rules
		s, err := compile(t, src)
		_, oerr := CompileOverlay("acme", Source{Name: "r.yaml", Data: []byte(src)})
		for what, err := range map[string]error{"shared": err, "overlay": oerr} {
			if tt.ok != (err == nil) || !tt.ok && !strings.Contains(err.Error(), "r.yaml:2: version: ") {
				t.Errorf("%s: version: %s: %v", what, tt.label, err)
			}
		}
		if tt.ok && !strings.HasPrefix(s.Version(), tt.label+"@sha256:") {
			t.Errorf("version: %s gives %q", tt.label, s.Version())
		}
	}
}

// TestOneLabelPerRuleset: files of one ruleset (or overlay) that set two
// different version: labels are refused at the second's line; which file
// came last (their names' order) must not pick the version silently. The
// same label twice, or one file setting it, is fine.
func TestOneLabelPerRuleset(t *testing.T) {
	const rule = "rules:\n  - id: %s\n    description: d\n    when: geo.new_country\n    score: 10\n"
	file := func(name, label, id string) Source {
		data := fmt.Sprintf(rule, id)
		if label != "" {
			data = "# " + name + "\nversion: " + label + "\n" + data
		}
		return Source{Name: name, Data: []byte(data)}
	}
	tests := []struct {
		name  string
		files []Source
		want  string // the label, or the error
	}{
		{"one file labels", []Source{file("a.yaml", "one", "a"), file("b.yaml", "", "b")}, "one@sha256:"},
		{"the last file labels", []Source{file("a.yaml", "", "a"), file("b.yaml", "two", "b")}, "two@sha256:"},
		{"the same label twice", []Source{file("a.yaml", "one", "a"), file("b.yaml", "one", "b")}, "one@sha256:"},
		{"two labels", []Source{file("a.yaml", "one", "a"), file("b.yaml", "two", "b")}, `b.yaml:2: version: "two": the ruleset's label is already "one" (in a.yaml): set one label, in one file`},
	}
	for _, tt := range tests {
		s, err := Compile(tt.files...)
		o, oerr := CompileOverlay("acme", tt.files...)
		if strings.Contains(tt.want, "@sha256:") {
			if err != nil || oerr != nil {
				t.Errorf("%s: %v; overlay: %v", tt.name, err, oerr)
				continue
			}
			if !strings.HasPrefix(s.Version(), tt.want) || !strings.HasPrefix(o.Version(), "tenant:acme@"+tt.want) {
				t.Errorf("%s: versions %q and %q, want the label %s", tt.name, s.Version(), o.Version(), tt.want)
			}
			continue
		}
		for what, err := range map[string]error{"shared": err, "overlay": oerr} {
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || list[0].Error() != tt.want || list[0].Field != "version" {
				t.Errorf("%s (%s): %v, want %s", tt.name, what, err, tt.want)
			}
		}
	}
}
