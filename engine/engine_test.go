package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type harness struct {
	e     *engine.Engine
	store *memstore.Store
}

func newHarness(t testing.TB, store engine.Store) *harness {
	t.Helper()
	ms, _ := store.(*memstore.Store)
	if store == nil {
		ms = memstore.New(memstore.Options{})
		store = ms
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	e := enginetest.New(t, engine.Options{Store: store, Now: func() time.Time { return t0 }})
	return &harness{e: e, store: ms}
}

func ptr(f float64) *float64 { return &f }

const chromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// paris is an ordinary login of alice from her laptop at home.
func paris(at time.Time) engine.Attempt {
	return engine.Attempt{Time: at, UserID: "u-alice", Username: "Alice@Example.com", IP: "81.2.69.160",
		UserAgent: chromeWin, DeviceID: "laptop-1", Result: engine.ResultPasswordOK,
		Geo: &engine.GeoHint{Country: "FR", Lat: ptr(48.8566), Lon: ptr(2.3522)}}
}

func (h *harness) score(t *testing.T, a engine.Attempt) engine.Decision {
	t.Helper()
	d, err := h.e.Score(context.Background(), a)
	if err != nil {
		t.Fatalf("Score: %v", err)
	}
	return d
}

// train gives alice a history of n ordinary logins, one a day at 9:00.
func (h *harness) train(t *testing.T, n int) time.Time {
	t.Helper()
	at := t0
	for i := range n {
		at = t0.Add(time.Duration(i) * 24 * time.Hour)
		if d := h.score(t, paris(at)); d.Action != engine.ActionAllow {
			t.Fatalf("training login %d: %s %v", i, d.Action, d.Reasons)
		}
	}
	return at
}

func ruleIDs(rs []engine.Reason) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RuleID)
	}
	return ids
}

func hasRule(rs []engine.Reason, id string) bool {
	for _, r := range rs {
		if r.RuleID == id {
			return true
		}
	}
	return false
}

func TestOrdinaryLoginIsAllowed(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 5)
	d := h.score(t, paris(last.Add(24*time.Hour)))
	if d.Action != engine.ActionAllow || d.Score != 0 || len(d.Reasons) != 0 {
		t.Errorf("ordinary login: %s score %d reasons %v", d.Action, d.Score, ruleIDs(d.Reasons))
	}
	s := d.Signals
	if !s.User.Known || s.User.Logins != 5 || !s.Device.Known || s.Device.New || s.Geo.NewCountry || !s.Geo.VelocityKnown || s.Geo.DistanceKM > 1 {
		t.Errorf("signals of an ordinary login: user %+v device %+v geo %+v", s.User, s.Device, s.Geo)
	}
	if d.DecisionID == "" || d.AttemptID != d.DecisionID || d.RulesVersion == "" || d.Tenant != "default" {
		t.Errorf("ids: decision %q attempt %q rules %q tenant %q", d.DecisionID, d.AttemptID, d.RulesVersion, d.Tenant)
	}
	if s.Attempt.Username != "alice@example.com" {
		t.Errorf("username not normalised: %q", s.Attempt.Username)
	}
}

func TestImpossibleTravelIsSteppedUp(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 5)
	// Two hours after a login in Paris, the same device logs in from Sydney.
	a := paris(last.Add(2 * time.Hour))
	a.IP = "1.128.0.1"
	a.Geo = &engine.GeoHint{Country: "AU", Lat: ptr(-33.8688), Lon: ptr(151.2093)}
	d := h.score(t, a)
	if d.Action != engine.ActionStepUp || !hasRule(d.Reasons, "impossible-travel") {
		t.Fatalf("Paris to Sydney in 2h: %s %v", d.Action, ruleIDs(d.Reasons))
	}
	if g := d.Signals.Geo; g.DistanceKM < 16000 || g.SpeedKMH < 7000 || !g.ImpossibleTravel {
		t.Errorf("geo signals: %+v", g)
	}
	for _, r := range d.Reasons {
		if r.RuleID == "impossible-travel" && !strings.Contains(r.Message, "km/h") {
			t.Errorf("reason message not rendered: %q", r.Message)
		}
	}
	if !d.Alert {
		t.Error("impossible travel did not raise an alert")
	}
}

func TestPlausibleTravelIsNotImpossible(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 5)
	// Paris to London by train, three hours later: 340 km, well under the limit.
	a := paris(last.Add(3 * time.Hour))
	a.Geo = &engine.GeoHint{Country: "GB", Lat: ptr(51.5074), Lon: ptr(-0.1278)}
	d := h.score(t, a)
	if d.Signals.Geo.ImpossibleTravel || hasRule(d.Reasons, "impossible-travel") {
		t.Errorf("Paris to London in 3h flagged: %+v", d.Signals.Geo)
	}
	if !d.Signals.Geo.NewCountry {
		t.Error("GB not new for a user only seen in FR")
	}
	// Known device in a new country: some friction-free score, no step-up.
	if d.Action != engine.ActionAllow {
		t.Errorf("known device abroad: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

// A login dated before the last completed one (an event that arrived
// late, an identity server whose clock is behind) is measured back in
// time: New York two days before a login in Paris was possible, Sydney an
// hour before was not.
func TestLoginDatedBeforeTheLastIsMeasuredBack(t *testing.T) {
	tests := []struct {
		name       string
		before     time.Duration
		country    string
		lat, lon   float64
		impossible bool
	}{
		{"New York two days before", 48 * time.Hour, "US", 40.7128, -74.0060, false},
		{"Sydney an hour before", time.Hour, "AU", -33.8688, 151.2093, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			last := h.train(t, 5)
			a := paris(last.Add(-tc.before))
			a.Geo = &engine.GeoHint{Country: tc.country, Lat: ptr(tc.lat), Lon: ptr(tc.lon)}
			d := h.score(t, a)
			g := d.Signals.Geo
			if g.ImpossibleTravel != tc.impossible || hasRule(d.Reasons, "impossible-travel") != tc.impossible {
				t.Errorf("impossible travel %v (want %v), %.0f km/h, rules %v", g.ImpossibleTravel, tc.impossible, g.SpeedKMH, ruleIDs(d.Reasons))
			}
			if want := tc.before.Hours(); g.HoursSince != want {
				t.Errorf("hours_since_last %v, want %v", g.HoursSince, want)
			}
		})
	}
}

func TestNewDeviceInNewCountryIsSteppedUp(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 5)
	a := paris(last.Add(48 * time.Hour))
	a.DeviceID = "attacker-box"
	a.Geo = &engine.GeoHint{Country: "BR", Lat: ptr(-23.55), Lon: ptr(-46.63)}
	d := h.score(t, a)
	if d.Action != engine.ActionStepUp || !hasRule(d.Reasons, "new-device-new-country") {
		t.Errorf("new device in new country: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

func TestStuffingBurstFromOneAddressIsDenied(t *testing.T) {
	h := newHarness(t, nil)
	var last engine.Decision
	for i := range 30 {
		last = h.score(t, engine.Attempt{Time: t0.Add(time.Duration(i) * 5 * time.Second), Username: fmt.Sprintf("victim%d@example.com", i),
			IP: "45.155.205.10", UserAgent: chromeWin, Result: engine.ResultPasswordBad})
	}
	if last.Action != engine.ActionDeny || !hasRule(last.Reasons, "stuffing-address-burst") {
		t.Errorf("30 usernames failing from one address: %s %v", last.Action, ruleIDs(last.Reasons))
	}
	if w := last.Signals.IP; w.Failures10m != 30 || w.Usernames10m != 30 {
		t.Errorf("ip windows: %+v", w)
	}
	// An ordinary user elsewhere is not affected.
	d := h.score(t, engine.Attempt{Time: t0.Add(3 * time.Minute), UserID: "u-bob", Username: "bob", IP: "81.2.69.161", Result: engine.ResultPasswordOK})
	if d.Action != engine.ActionAllow {
		t.Errorf("bystander: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

// One IPv6 host owns a /64 and picks any interface id in it: a bot that
// takes a fresh one per attempt is still one address to the windows, as
// the IPv4 address of the test above is.
func TestStuffingFromOneIPv6HostRotatingAddressesIsDenied(t *testing.T) {
	h := newHarness(t, nil)
	var last engine.Decision
	for i := range 15 { // under the /48's burst rule (20 failures)
		last = h.score(t, engine.Attempt{Time: t0.Add(time.Duration(i) * 5 * time.Second), Username: fmt.Sprintf("victim%d@example.com", i),
			IP: fmt.Sprintf("2a01:cb00:1234:5678:%x:%x::%x", (0x1000+i*7919)&0xffff, (i*104729)&0xffff, i+1), UserAgent: chromeWin, Result: engine.ResultPasswordBad})
	}
	if last.Action != engine.ActionDeny || !hasRule(last.Reasons, "stuffing-address-burst") {
		t.Errorf("15 usernames failing from one /64, an address each: %s %v", last.Action, ruleIDs(last.Reasons))
	}
	if w := last.Signals.IP; w.Failures10m != 15 || w.Usernames10m != 15 {
		t.Errorf("ip windows: %+v", w)
	}
	// The next /64 of the same /48 is another customer: its address
	// windows are its own, only the subnet's are shared.
	d := h.score(t, engine.Attempt{Time: t0.Add(2 * time.Minute), UserID: "u-bob", Username: "bob", IP: "2a01:cb00:1234:5679::1", Result: engine.ResultPasswordOK})
	if w := d.Signals.IP; w.Failures10m != 0 || w.Usernames10m != 1 {
		t.Errorf("another /64's ip windows: %+v", w)
	}
	if d.Signals.Subnet.Failures10m != 15 {
		t.Errorf("the /48's windows: %+v", d.Signals.Subnet)
	}
	if d.Action != engine.ActionAllow {
		t.Errorf("bystander: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

func TestFailedAndDeniedAttemptsNeverTeachTheBaseline(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 3)
	ctx := context.Background()
	attacker := func(at time.Time, result engine.Result) engine.Attempt {
		a := paris(at)
		a.DeviceID, a.IP, a.Result = "evil-device", "45.155.205.99", result
		a.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
		a.Geo = &engine.GeoHint{Country: "RU", Lat: ptr(55.75), Lon: ptr(37.61)}
		return a
	}
	// A failed password, a denied attempt and a failed step-up.
	h.score(t, attacker(last.Add(time.Hour), engine.ResultPasswordBad))
	for i := range 25 { // lock the account: brute-force-account-lock denies
		h.score(t, attacker(last.Add(time.Hour+time.Duration(i)*time.Second), engine.ResultPasswordBad))
	}
	d := h.score(t, attacker(last.Add(2*time.Hour), engine.ResultPasswordOK))
	if d.Action != engine.ActionDeny {
		t.Fatalf("attacker with the password after a brute force: %s %v", d.Action, ruleIDs(d.Reasons))
	}
	d = h.score(t, attacker(last.Add(30*time.Hour), engine.ResultPasswordOK))
	if d.Action != engine.ActionStepUp {
		t.Fatalf("attacker later: %s %v", d.Action, ruleIDs(d.Reasons))
	}
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.StepUpFailed}); err != nil {
		t.Fatal(err)
	}
	p, ok, err := h.e.Profile(ctx, "", "u-alice")
	if err != nil || !ok {
		t.Fatalf("profile: %v %v", ok, err)
	}
	if p.Logins != 3 || len(p.Devices) != 1 || len(p.Countries) != 1 || p.Countries[0].Value != "FR" || len(p.Agents) != 1 {
		t.Errorf("baseline poisoned: logins %d devices %d countries %v agents %v", p.Logins, len(p.Devices), p.Countries, p.Agents)
	}
}

func TestStepUpPassedTeachesTheBaseline(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 3)
	ctx := context.Background()
	a := paris(last.Add(48 * time.Hour))
	a.DeviceID = "new-phone"
	a.Geo = &engine.GeoHint{Country: "JP", Lat: ptr(35.68), Lon: ptr(139.69)}
	d := h.score(t, a)
	if d.Action != engine.ActionStepUp {
		t.Fatalf("new phone in Japan: %s %v", d.Action, ruleIDs(d.Reasons))
	}
	if p, _, _ := h.e.Profile(ctx, "", "u-alice"); p.Logins != 3 {
		t.Fatalf("a step-up taught the baseline before it passed: %d logins", p.Logins)
	}
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.StepUpPassed}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.StepUpPassed}); !errors.Is(err, engine.ErrUnknownDecision) {
		t.Errorf("second report of the same decision: %v, want ErrUnknownDecision", err)
	}
	p, _, _ := h.e.Profile(ctx, "", "u-alice")
	if p.Logins != 4 || len(p.Devices) != 2 || !engine.Has(p.Countries, "JP") {
		t.Errorf("after step_up_passed: logins %d devices %d countries %v", p.Logins, len(p.Devices), p.Countries)
	}
	// The next login from the phone in Japan is ordinary.
	a.Time = a.Time.Add(24 * time.Hour)
	if d := h.score(t, a); d.Action != engine.ActionAllow {
		t.Errorf("learned device and country: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

func TestScoredBeforePasswordCheckLearnsOnReport(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a := paris(t0)
	a.Result = engine.ResultUnknown
	d := h.score(t, a)
	if _, ok, _ := h.e.Profile(ctx, "", "u-alice"); ok {
		t.Fatal("learned before the outcome")
	}
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	if p, ok, _ := h.e.Profile(ctx, "", "u-alice"); !ok || p.Logins != 1 {
		t.Errorf("after login_succeeded: %v %+v", ok, p)
	}
	// A failure reported later counts in the windows.
	a.Time = t0.Add(time.Minute)
	d = h.score(t, a)
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.LoginFailed}); err != nil {
		t.Fatal(err)
	}
	a.Time = t0.Add(2 * time.Minute)
	d = h.score(t, a)
	if d.Signals.Account.Failures1h != 1 || d.Signals.IP.Failures10m != 1 {
		t.Errorf("reported failure not counted: account %+v ip %+v", d.Signals.Account, d.Signals.IP.NetWindows)
	}
}

func TestReportByAttempt(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a := paris(t0)
	if err := h.e.Report(ctx, engine.Outcome{Attempt: &a, Outcome: engine.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	if p, ok, _ := h.e.Profile(ctx, "", "u-alice"); !ok || p.Logins != 1 {
		t.Errorf("report by attempt did not learn: %v %+v", ok, p)
	}
	bad := a
	bad.IP = "nope"
	err := h.e.Report(ctx, engine.Outcome{Attempt: &bad, Outcome: engine.LoginFailed})
	var fe *engine.FieldError
	if !errors.As(err, &fe) || fe.Field != "attempt.ip" {
		t.Errorf("bad attempt in report: %v", err)
	}
}

// TestReportByAttemptOnce: an outcome sent with its attempt, as a client
// does for an attempt riskgate never decided, is applied once per
// attempt_id: a retry or a redelivery of it counts nothing more.
func TestReportByAttemptOnce(t *testing.T) {
	tests := []struct {
		name     string
		result   engine.Result // of the attempt, as scored and as reported
		scored   bool          // the attempt was scored before it was reported
		ids      []string
		outcome  engine.OutcomeKind
		failures int
		logins   uint32
	}{
		{"failure sent three times", engine.ResultUnknown, false, []string{"a-1", "a-1", "a-1"}, engine.LoginFailed, 1, 0},
		{"step-up failure sent twice", engine.ResultUnknown, false, []string{"a-1", "a-1"}, engine.StepUpFailed, 1, 0},
		{"two attempts' failures", engine.ResultUnknown, false, []string{"a-1", "a-2"}, engine.LoginFailed, 2, 0},
		{"failure of a scored attempt", engine.ResultUnknown, true, []string{"a-1", "a-1"}, engine.LoginFailed, 1, 0},
		{"success sent twice", engine.ResultUnknown, false, []string{"a-1", "a-1"}, engine.LoginSucceeded, 0, 1},
		{"step-up pass sent twice", engine.ResultUnknown, false, []string{"a-1", "a-1"}, engine.StepUpPassed, 0, 1},
		{"without attempt ids", engine.ResultUnknown, false, []string{"", ""}, engine.LoginFailed, 2, 0},
		// A client that timed out fails over and reports the failure its
		// Score, which landed, counted already.
		{"wrong password scored, then reported", engine.ResultPasswordBad, true, []string{"a-1"}, engine.LoginFailed, 1, 0},
		{"wrong password reported twice", engine.ResultPasswordBad, false, []string{"a-1", "a-1"}, engine.LoginFailed, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			for _, id := range tt.ids {
				a := paris(t0)
				a.AttemptID, a.Result = id, tt.result
				if tt.scored {
					h.score(t, a)
				}
				if err := h.e.Report(ctx, engine.Outcome{Attempt: &a, Outcome: tt.outcome}); err != nil {
					t.Fatalf("report %q: %v", id, err)
				}
			}
			probe := paris(t0.Add(time.Minute))
			probe.Result = engine.ResultUnknown
			d := h.score(t, probe)
			if got := d.Signals.Account.Failures1h; got != tt.failures {
				t.Errorf("account failures: %d, want %d", got, tt.failures)
			}
			if got := d.Signals.IP.Failures10m; got != tt.failures {
				t.Errorf("address failures: %d, want %d", got, tt.failures)
			}
			p, _, _ := h.e.Profile(ctx, "", "u-alice")
			if p.Logins != tt.logins {
				t.Errorf("logins learned: %d, want %d", p.Logins, tt.logins)
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	tests := []struct {
		o     engine.Outcome
		field string
	}{
		{engine.Outcome{DecisionID: "x"}, "outcome"},
		{engine.Outcome{Outcome: engine.LoginFailed}, "decision_id"},
		{engine.Outcome{Outcome: engine.LoginFailed, DecisionID: "a b"}, "decision_id"},
		{engine.Outcome{Outcome: engine.LoginFailed, DecisionID: "x", Tenant: "bad tenant"}, "tenant"},
		{engine.Outcome{Outcome: engine.LoginFailed, DecisionID: "x", Tenant: ".."}, "tenant"},
		// An outcome's time is checked as an attempt's is.
		{engine.Outcome{Outcome: engine.LoginFailed, DecisionID: "x", Time: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}, "time"},
	}
	for _, tt := range tests {
		err := h.e.Report(ctx, tt.o)
		var fe *engine.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Report(%+v) = %v, want a field error on %s", tt.o, err, tt.field)
		}
	}
	if err := h.e.Report(ctx, engine.Outcome{DecisionID: "01NEVERISSUED", Outcome: engine.LoginFailed}); !errors.Is(err, engine.ErrUnknownDecision) {
		t.Errorf("unknown decision: %v", err)
	}
	skewed := enginetest.New(t, engine.Options{Now: func() time.Time { return t0 }, MaxClockSkew: 5 * time.Minute})
	err := skewed.Report(ctx, engine.Outcome{Outcome: engine.LoginFailed, DecisionID: "x", Time: t0.Add(time.Hour)})
	if fe, ok := errors.AsType[*engine.FieldError](err); !ok || fe.Field != "time" {
		t.Errorf("an outcome an hour in the future: %v, want a field error on time", err)
	}
}

func TestInvalidAttemptsNameTheFieldAndTouchNothing(t *testing.T) {
	h := newHarness(t, nil)
	long := strings.Repeat("x", 300)
	many := map[string]string{}
	for i := range 40 {
		many[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name  string
		a     engine.Attempt
		field string
	}{
		{"missing ip", engine.Attempt{}, "ip"},
		{"bad ip", engine.Attempt{IP: "300.1.2.3"}, "ip"},
		{"ip with zone", engine.Attempt{IP: "fe80::1%eth0"}, "ip"},
		{"short sha1", engine.Attempt{IP: "1.2.3.4", PasswordSHA1: "abc"}, "password_sha1"},
		{"non-hex sha1", engine.Attempt{IP: "1.2.3.4", PasswordSHA1: strings.Repeat("z", 40)}, "password_sha1"},
		{"control char", engine.Attempt{IP: "1.2.3.4", UserID: "a\x00b"}, "user_id"},
		{"tenant chars", engine.Attempt{IP: "1.2.3.4", Tenant: "a/b"}, "tenant"},
		// The identity server's own ids are refused, not cleaned.
		{"bad utf8 user_id", engine.Attempt{IP: "1.2.3.4", UserID: "\xff\xfe"}, "user_id"},
		{"long attempt_id", engine.Attempt{IP: "1.2.3.4", AttemptID: long}, "attempt_id"},
		// A tenant no rules overlay can be put for (its folder's name).
		{"tenant .", engine.Attempt{IP: "1.2.3.4", Tenant: "."}, "tenant"},
		{"tenant ..", engine.Attempt{IP: "1.2.3.4", Tenant: ".."}, "tenant"},
		{"tenant .x", engine.Attempt{IP: "1.2.3.4", Tenant: ".x"}, "tenant"},
		{"too many attributes", engine.Attempt{IP: "1.2.3.4", Attributes: many}, "attributes"},
		{"long attribute", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"k": long}}, "attributes.k"},
		{"attribute value NUL", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"k": "a\x00b"}}, "attributes.k"},
		{"attribute value CRLF", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"k": "a\r\nb"}}, "attributes.k"},
		{"attribute key LF", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"a\nb": "v"}}, "attributes"},
		{"attribute value bad utf8", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"k": "\xff"}}, "attributes.k"},
		{"attribute password", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"password": "hunter2"}}, "attributes.password"},
		{"attribute userPassword", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"userPassword": "x"}}, "attributes.userPassword"},
		{"attribute passwd", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"passwd": "x"}}, "attributes.passwd"},
		{"attribute pin", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"card_pin": "1234"}}, "attributes.card_pin"},
		{"attribute otp", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"OTP": "123456"}}, "attributes.OTP"},
		{"attribute secret", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"client_secret": "x"}}, "attributes.client_secret"},
		{"attribute token", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"refreshToken": "x"}}, "attributes.refreshToken"},
		{"attribute pass", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"pass": "x"}}, "attributes.pass"},
		{"attribute passphrase", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"passphrase": "x"}}, "attributes.passphrase"},
		{"attribute passcode", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"passcode": "x"}}, "attributes.passcode"},
		{"attribute pw", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"pw": "x"}}, "attributes.pw"},
		{"attribute pincode", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"pincode": "x"}}, "attributes.pincode"},
		{"attribute api_key", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"api_key": "x"}}, "attributes.api_key"},
		{"attribute apiKey", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"apiKey": "x"}}, "attributes.apiKey"},
		{"attribute X-Api-Key", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"X-Api-Key": "x"}}, "attributes.X-Api-Key"},
		{"attribute pass\u200bword", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"pass\u200bword": "x"}}, "attributes.pass\u200bword"},
		{"attribute fullwidth password", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"ｐａｓｓｗｏｒｄ": "x"}}, "attributes.ｐａｓｓｗｏｒｄ"},
		{"attribute private_key", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"private_key": "x"}}, "attributes.private_key"},
		{"attribute privateKey", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"privateKey": "x"}}, "attributes.privateKey"},
		{"attribute pswd", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"pswd": "x"}}, "attributes.pswd"},
		{"attribute passw", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"passw": "x"}}, "attributes.passw"},
		{"attribute Passwort", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"Passwort": "x"}}, "attributes.Passwort"},
		{"attribute mfa_code", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"mfa_code": "123456"}}, "attributes.mfa_code"},
		{"attribute otpCode", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"otpCode": "123456"}}, "attributes.otpCode"},
		{"attribute card_cvv", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"card_cvv": "123"}}, "attributes.card_cvv"},
		{"attribute cvc", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"cvc": "123"}}, "attributes.cvc"},
		{"attribute user\u00adPin", engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{"user\u00adPin": "x"}}, "attributes.user\u00adPin"},
		{"bad country", engine.Attempt{IP: "1.2.3.4", Geo: &engine.GeoHint{Country: "France"}}, "geo.country"},
		{"lat alone", engine.Attempt{IP: "1.2.3.4", Geo: &engine.GeoHint{Lat: ptr(1)}}, "geo"},
		{"lat range", engine.Attempt{IP: "1.2.3.4", Geo: &engine.GeoHint{Lat: ptr(91), Lon: ptr(0)}}, "geo.lat"},
		{"lon range", engine.Attempt{IP: "1.2.3.4", Geo: &engine.GeoHint{Lat: ptr(0), Lon: ptr(-181)}}, "geo.lon"},
		{"result", engine.Attempt{IP: "1.2.3.4", Result: engine.Result(9)}, "result"},
		{"ancient time", engine.Attempt{IP: "1.2.3.4", Time: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}, "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.e.Score(context.Background(), tt.a)
			var fe *engine.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("err = %v, want a field error on %q", err, tt.field)
			}
		})
	}
	// Words that merely contain the short secret words are not secrets.
	for _, k := range []string{"spinner", "hotpot", "tokenizer_version", "app", "shipping", "passport", "bypass_sso", "compass", "pwa", "keyboard", "api_version", "credential_type", "private_network", "cvcs_total"} {
		if _, err := h.e.DryRun(context.Background(), engine.Attempt{IP: "1.2.3.4", Attributes: map[string]string{k: "v"}}, nil); err != nil {
			t.Errorf("attribute %q: %v", k, err)
		}
	}
	if p, w, pend := h.store.Len(); p+w+pend != 0 {
		t.Errorf("invalid attempts reached the store: %d profiles, %d windows, %d pending", p, w, pend)
	}
}

func TestAttemptJSON(t *testing.T) {
	var a engine.Attempt
	err := json.Unmarshal([]byte(`{"ip":"1.2.3.4","result":"password_maybe"}`), &a)
	if err == nil || !strings.Contains(err.Error(), "password_maybe") {
		t.Errorf("unknown result accepted: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"ip":"1.2.3.4","result":"no_such_user","time":"2026-05-04T09:00:00Z"}`), &a); err != nil || a.Result != engine.ResultNoSuchUser {
		t.Errorf("decode: %v %+v", err, a)
	}
}

func TestForget(t *testing.T) {
	h := newHarness(t, nil)
	h.train(t, 2)
	ctx := context.Background()
	if err := h.e.Forget(ctx, "", "u-alice"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.e.Profile(ctx, "", "u-alice"); ok {
		t.Error("profile survives Forget")
	}
	var fe *engine.FieldError
	if err := h.e.Forget(ctx, "", ""); !errors.As(err, &fe) || fe.Field != "user_id" {
		t.Errorf("Forget without user: %v", err)
	}
}

// TestForgetErasesRetriedDecisions: a retry of an attempt after its
// user's erasure is decided afresh, on the state as it is now. The first
// decision's reasons quoted the erased history ("last login from FR"):
// they come back neither from the node's retry cache nor from the store's
// record of the attempt (store only: no cache). The retry is not counted
// again, nothing of it is learned or kept for an outcome, and observers
// are not told of it again. Another user's retry still gets its first
// decision.
func TestForgetErasesRetriedDecisions(t *testing.T) {
	obs := &decisionCounter{}
	eachRetryMemory(t, engine.Options{Observers: []engine.Observer{obs}}, func(t *testing.T, h *harness) {
		last := h.train(t, 3)
		ctx := context.Background()
		a := fromTokyo(last, "req-1")
		first := h.score(t, a)
		if !hasRule(first.Reasons, "impossible-travel") || !strings.Contains(reasonText(first.Reasons), "last login from FR") {
			t.Fatalf("before erasure: %s %v, want impossible-travel quoting the last login", first.Action, reasonText(first.Reasons))
		}
		other := paris(last.Add(time.Hour))
		other.UserID, other.AttemptID = "u-bob", "req-2"
		bob := h.score(t, other)
		decided := obs.n.Load()
		if err := h.e.Forget(ctx, "", "u-alice"); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			again := h.score(t, a)
			if again.DecisionID == first.DecisionID || hasRule(again.Reasons, "impossible-travel") || strings.Contains(reasonText(again.Reasons), "FR") {
				t.Errorf("retry %d after erasure: decision %s (first %s), reasons %v: answered from the erased history",
					i, again.DecisionID, first.DecisionID, reasonText(again.Reasons))
			}
			if u := again.Signals.User; u.Known || u.Logins != 0 || again.Signals.Geo.PreviousCountry != "" {
				t.Errorf("retry %d after erasure read an erased profile: user %+v, previous country %q", i, u, again.Signals.Geo.PreviousCountry)
			}
			if got, want := again.Signals.Tenant.Attempts10m, first.Signals.Tenant.Attempts10m+1; got != want {
				t.Errorf("retry %d after erasure: tenant attempts_10m %d, want %d (the attempt and bob's, each once)", i, got, want)
			}
		}
		if _, ok, _ := h.e.Profile(ctx, "", "u-alice"); ok {
			t.Error("a retry after erasure was learned")
		}
		if n := obs.n.Load(); n != decided {
			t.Errorf("observers were told of %d more decisions after the erasure, want none", n-decided)
		}
		// Another user's retry is untouched.
		if d := h.score(t, other); d.DecisionID != bob.DecisionID {
			t.Errorf("bob's retry: decision %s, first %s", d.DecisionID, bob.DecisionID)
		}
	})
}

func reasonText(rs []engine.Reason) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s: %s; ", r.RuleID, r.Message)
	}
	return b.String()
}

// decisionCounter counts the decisions observers are told of.
type decisionCounter struct{ n atomic.Int64 }

func (c *decisionCounter) Decided(*engine.Attempt, *engine.Decision, time.Duration) { c.n.Add(1) }
func (c *decisionCounter) Reported(*engine.Outcome, *engine.Pending)                {}
func (c *decisionCounter) StoreCall(string, time.Duration, error)                   {}
func (c *decisionCounter) Failed(string, string, error)                             {}

// commitGate holds a Score in its Commit until released, as a Score
// still deciding while the user is erased.
type commitGate struct {
	*memstore.Store
	in, release chan struct{}
}

func (g *commitGate) Commit(ctx context.Context, c *engine.Commit) error {
	if g.in != nil {
		close(g.in)
		<-g.release
		g.in = nil
	}
	return g.Store.Commit(ctx, c)
}

// TestForgetDuringAScore: a Score that read the user's history before
// the erasure and commits after it keeps its decision neither in the
// store nor in the node's retry cache: a retry is decided afresh.
func TestForgetDuringAScore(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close(context.Background()) })
	gate := &commitGate{Store: ms}
	h := &harness{e: enginetest.New(t, engine.Options{Store: gate, Now: func() time.Time { return t0 }}), store: ms}
	last := h.train(t, 3)
	ctx := context.Background()
	a := fromTokyo(last, "req-1")
	a.Result = engine.ResultPasswordBad
	gate.in, gate.release = make(chan struct{}), make(chan struct{})
	in := gate.in
	done := make(chan engine.Decision)
	go func() {
		d, err := h.e.Score(ctx, a)
		if err != nil {
			t.Error(err)
		}
		done <- d
	}()
	<-in
	if err := h.e.Forget(ctx, "", "u-alice"); err != nil {
		t.Fatal(err)
	}
	close(gate.release)
	first := <-done
	if !hasRule(first.Reasons, "impossible-travel") {
		t.Fatalf("the Score that read the history: %v, want impossible-travel", reasonText(first.Reasons))
	}
	again := h.score(t, a)
	if again.DecisionID == first.DecisionID || hasRule(again.Reasons, "impossible-travel") || again.Signals.User.Known {
		t.Errorf("retry after an erasure during the first Score: decision %s (first %s), reasons %v, user known %v",
			again.DecisionID, first.DecisionID, reasonText(again.Reasons), again.Signals.User.Known)
	}
}

// TestForgetOnAnotherNodeReachesItsRetries: with a store nodes share (two
// engines on one memory store are two nodes, as on one Redis), the node
// that decided an attempt remembers its decision for retries, and an
// erasure served by another node cannot empty that memory. A retry there
// after the erasure is decided afresh all the same: the store, asked
// first, says the attempt was erased. Another user's retry still gets the
// remembered decision.
func TestForgetOnAnotherNodeReachesItsRetries(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close(context.Background()) })
	store := ms
	now := func() time.Time { return t0 }
	h := &harness{e: enginetest.New(t, engine.Options{Store: store, Now: now}), store: ms}
	other := enginetest.New(t, engine.Options{Store: store, Now: now})
	last := h.train(t, 3)
	ctx := context.Background()
	a := fromTokyo(last, "req-1")
	first := h.score(t, a)
	if !hasRule(first.Reasons, "impossible-travel") {
		t.Fatalf("before erasure: %s %v, want impossible-travel", first.Action, reasonText(first.Reasons))
	}
	b := paris(last.Add(time.Hour))
	b.UserID, b.AttemptID = "u-bob", "req-2"
	bob := h.score(t, b)
	if err := other.Forget(ctx, "", "u-alice"); err != nil {
		t.Fatal(err)
	}
	again := h.score(t, a)
	if again.DecisionID == first.DecisionID || hasRule(again.Reasons, "impossible-travel") || again.Signals.User.Known {
		t.Errorf("retry on the deciding node after another node's erasure: decision %s (first %s), reasons %v, user known %v",
			again.DecisionID, first.DecisionID, reasonText(again.Reasons), again.Signals.User.Known)
	}
	if d := h.score(t, b); d.DecisionID != bob.DecisionID || d.Signals.IP.Usernames10m != bob.Signals.IP.Usernames10m {
		t.Errorf("bob's retry: decision %s (usernames_10m %d), first %s (%d): want the remembered one",
			d.DecisionID, d.Signals.IP.Usernames10m, bob.DecisionID, bob.Signals.IP.Usernames10m)
	}
	if _, ok, _ := h.e.Profile(ctx, "", "u-alice"); ok {
		t.Error("a retry after erasure was learned")
	}
}

// failingStore fails every call, as an unreachable network store would.
type failingStore struct{ engine.Store }

var errDown = fmt.Errorf("connection refused: %w", engine.ErrUnavailable)

func (failingStore) Observe(context.Context, *engine.Event, *engine.State) error { return errDown }
func (failingStore) Commit(context.Context, *engine.Commit) error                { return errDown }

func TestStoreFailureDecidesWithoutState(t *testing.T) {
	h := newHarness(t, failingStore{memstore.New(memstore.Options{})})
	a := paris(t0)
	d := h.score(t, a)
	if d.Signals.State.Available || d.Action != engine.ActionAllow {
		t.Errorf("ordinary login with the store down: %s available=%v", d.Action, d.Signals.State.Available)
	}
	// Stateless rules still apply.
	a.UserAgent = "python-requests/2.32"
	if d := h.score(t, a); d.Action != engine.ActionStepUp || !hasRule(d.Reasons, "scripted-client") {
		t.Errorf("scripted client with the store down: %s %v", d.Action, ruleIDs(d.Reasons))
	}
}

func TestConcurrentScoring(t *testing.T) {
	h := newHarness(t, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				a := paris(t0.Add(time.Duration(i) * time.Hour))
				a.UserID = fmt.Sprintf("u%d", w)
				if _, err := h.e.Score(context.Background(), a); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for w := range 8 {
		if p, _, _ := h.e.Profile(context.Background(), "", fmt.Sprintf("u%d", w)); p.Logins != 200 {
			t.Errorf("user %d: %d logins learned, want 200", w, p.Logins)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	last := h.train(t, 3)
	ctx := context.Background()
	strict, err := rules.Compile(rules.Source{Name: "strict.yaml", Data: []byte(`
rules:
  - id: everyone-steps-up
    description: Everyone steps up.
    when: "true"
    action: step_up
`)})
	if err != nil {
		t.Fatal(err)
	}
	a := paris(last.Add(24 * time.Hour))
	a.Result = engine.ResultPasswordBad
	for range 3 {
		d, err := h.e.DryRun(ctx, a, strict)
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != engine.ActionStepUp || d.RulesVersion != strict.Version() {
			t.Fatalf("dry run: %s with %s", d.Action, d.RulesVersion)
		}
		if d.Signals.Account.Failures1h != 0 {
			t.Errorf("dry run counted a failure: %d", d.Signals.Account.Failures1h)
		}
	}
	a.Result = engine.ResultPasswordOK
	if _, err := h.e.DryRun(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := h.e.Profile(ctx, "", "u-alice"); p.Logins != 3 {
		t.Errorf("dry run learned: %d logins", p.Logins)
	}
	if d := h.score(t, a); d.Signals.Account.Failures1h != 0 || d.RulesVersion == strict.Version() {
		t.Errorf("state after dry runs: failures %d, rules %s", d.Signals.Account.Failures1h, d.RulesVersion)
	}
}

func TestPasswordHashIsDecodedExactly(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	// "password" and "123456": the same hash in either case is the same
	// password, so spraying counts it once per account.
	for i, sum := range []string{"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"} {
		a := engine.Attempt{Time: t0.Add(time.Duration(i) * time.Minute), UserID: fmt.Sprint("u", i), IP: "81.2.69.1", PasswordSHA1: sum, Result: engine.ResultPasswordBad}
		d, err := h.e.Score(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Signals.Password.Present || d.Signals.Password.Accounts1h != i+1 {
			t.Errorf("hash %d: present %v accounts %d", i, d.Signals.Password.Present, d.Signals.Password.Accounts1h)
		}
	}
	a := engine.Attempt{Time: t0.Add(time.Hour), UserID: "u9", IP: "81.2.69.1", PasswordSHA1: "7c4a8d09ca3762af61e45520943dc26494f8941b", Result: engine.ResultPasswordBad}
	if d, _ := h.e.Score(ctx, a); d.Signals.Password.Accounts1h != 1 {
		t.Errorf("another password shares the spray count: %d", d.Signals.Password.Accounts1h)
	}
}

func TestAttemptIDIsAnIdempotencyKey(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a := engine.Attempt{AttemptID: "req-1", Time: t0, UserID: "u-x", Username: "x", IP: "45.155.205.10", Result: engine.ResultPasswordBad}
	first := h.score(t, a)
	again := h.score(t, a) // the identity server retried
	if again.DecisionID != first.DecisionID || again.Action != first.Action {
		t.Errorf("retry got decision %s (%s), first was %s (%s)", again.DecisionID, again.Action, first.DecisionID, first.Action)
	}
	a.AttemptID = "req-2"
	next := h.score(t, a)
	if next.Signals.Account.Failures1h != 2 {
		t.Errorf("account failures after a retry and a new attempt: %d, want 2 (the retry counted once)", next.Signals.Account.Failures1h)
	}
	// The same id for a different attempt is refused, naming the field.
	b := a
	b.IP = "81.2.69.1"
	_, err := h.e.Score(ctx, b)
	var fe *engine.FieldError
	if !errors.As(err, &fe) || fe.Field != "attempt_id" {
		t.Errorf("attempt_id reused for another attempt: %v", err)
	}
	// Attempts without an id are never deduplicated.
	c := a
	c.AttemptID = ""
	d1, d2 := h.score(t, c), h.score(t, c)
	if d1.DecisionID == d2.DecisionID {
		t.Error("attempts without attempt_id were deduplicated")
	}
	// Tenants have their own ids.
	a.Tenant = "other"
	if d := h.score(t, a); d.Tenant != "other" || d.DecisionID == next.DecisionID {
		t.Errorf("attempt_id shared across tenants: %+v", d.Tenant)
	}
}

// TestDecisionIDsAreSigned: ids stay ULIDs, verify for their own tenant
// only, and a label for an id never issued is unknown (issue 10 item 7).
func TestDecisionIDsAreSigned(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	d := h.score(t, paris(t0))
	if len(d.DecisionID) != 26 {
		t.Fatalf("decision id %q is not a ULID", d.DecisionID)
	}
	for _, o := range []engine.OutcomeKind{engine.ConfirmedFraud, engine.ConfirmedLegit} {
		if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: o}); err != nil {
			t.Errorf("%v on a real decision: %v", o, err)
		}
		for _, bad := range []engine.Outcome{
			{DecisionID: "anything"},
			{DecisionID: "01KJPTP8T0Q1Q1QTDX9WZQHSKA"},
			{DecisionID: d.DecisionID, Tenant: "other"},
			{DecisionID: strings.ToLower(d.DecisionID)},
		} {
			bad.Outcome = o
			if err := h.e.Report(ctx, bad); !errors.Is(err, engine.ErrUnknownDecision) {
				t.Errorf("%v on %q (tenant %q): %v, want unknown", o, bad.DecisionID, bad.Tenant, err)
			}
		}
	}
}

// One account typed every way an identity server accepts it (case, spaces,
// an input method's fullwidth letters) is one username to the windows; a
// look-alike from another script is another account, as it is to the
// identity server.
func TestUsernameVariantsAreOneUsername(t *testing.T) {
	tests := []struct {
		typed, want string
	}{
		{"alice@example.com", "alice@example.com"},
		{" Alice@Example.com ", "alice@example.com"},
		{"ＡＬＩＣＥ@example.com", "alice@example.com"},
		{"alice＠ｅｘａｍｐｌｅ．ｃｏｍ", "alice@example.com"},
		{"\u3000ａlice@example.com\u3000", "alice@example.com"},
		{"Ａｌｉｃｅ@Example.com", "alice@example.com"},
		// Invisible characters (zero-width space, joiners, word joiner,
		// byte order mark, soft hyphen, bidi controls, Hangul filler,
		// variation selector) render as nothing: stuffing the same name
		// with them made a new username to every window each time.
		{"al\u200bice@example.com", "alice@example.com"},
		{"\ufeffalice@exam\u200cple\u200d.com", "alice@example.com"},
		{"ali\u00adce@example.com\u2060", "alice@example.com"},
		{"\u202ealice@example.com\u202c", "alice@example.com"},
		{"al\u3164ice@example.com\ufe0f", "alice@example.com"},
		{"\u200b Alice@Example.com", "alice@example.com"},
		{"\u0430lice@example.com", "\u0430lice@example.com"}, // Cyrillic а: another account
	}
	h := newHarness(t, nil)
	for i, tc := range tests {
		if got := engine.NormalizeUsername(tc.typed); got != tc.want {
			t.Errorf("NormalizeUsername(%q) = %q, want %q", tc.typed, got, tc.want)
		}
		d := h.score(t, engine.Attempt{Time: t0.Add(time.Duration(i) * time.Second), Username: tc.typed, IP: "81.2.69.200", Result: engine.ResultPasswordBad})
		if d.Signals.Attempt.Username != tc.want {
			t.Errorf("attempt.username of %q = %q, want %q", tc.typed, d.Signals.Attempt.Username, tc.want)
		}
		if i == len(tests)-2 && d.Signals.IP.Usernames10m != 1 {
			t.Errorf("after %d spellings of one username, ip.usernames_10m = %d, want 1", i+1, d.Signals.IP.Usernames10m)
		}
	}
}

// An invisible character between a letter and its combining mark renders
// as the composed letter, and is that one username: dropped after the
// compatibility form, it kept the mark from composing ("e\u200b\u0301"
// became "e\u0301", not "é"), a second username for each such letter. A
// character Unicode keeps visible though it formats (the Arabic number
// sign, a prepended concatenation mark) is part of the name.
func TestInvisibleInsideALetterIsOneUsername(t *testing.T) {
	tests := []struct {
		typed, want string
	}{
		{"jos\u00e9@example.com", "jos\u00e9@example.com"},
		{"jose\u0301@example.com", "jos\u00e9@example.com"},
		{"jose\u200b\u0301@example.com", "jos\u00e9@example.com"},
		{"jose\u00ad\u0301@example.com", "jos\u00e9@example.com"},
		{"jose\u2060\u0301@example.com", "jos\u00e9@example.com"},
		{"JOSE\u034f\u0301@example.com", "jos\u00e9@example.com"},     // combining grapheme joiner
		{"jose\U000e0041\u0301@example.com", "jos\u00e9@example.com"}, // a tag character
		{"\u0600123@example.com", "\u0600123@example.com"},
	}
	h := newHarness(t, nil)
	for i, tc := range tests {
		if got := engine.NormalizeUsername(tc.typed); got != tc.want {
			t.Errorf("NormalizeUsername(%+q) = %+q, want %+q", tc.typed, got, tc.want)
		}
		d := h.score(t, engine.Attempt{Time: t0.Add(time.Duration(i) * time.Second), Username: tc.typed, IP: "81.2.69.201", Result: engine.ResultPasswordBad})
		if i == len(tests)-2 && d.Signals.IP.Usernames10m != 1 {
			t.Errorf("after %d spellings of one username, ip.usernames_10m = %d, want 1", i+1, d.Signals.IP.Usernames10m)
		}
	}
}

// fromTokyo is the trained user's attempt an hour after her last login in
// Paris (last), from Tokyo, under attemptID: impossible travel, whose
// reason quotes the last login's country.
func fromTokyo(last time.Time, attemptID string) engine.Attempt {
	a := paris(last.Add(time.Hour))
	a.AttemptID = attemptID
	a.Geo = &engine.GeoHint{Country: "JP", Lat: ptr(35.6762), Lon: ptr(139.6503)}
	return a
}

// eachRetryMemory runs f on a fresh memory store with opts, once with the
// node's retry cache and once with the store's records alone.
func eachRetryMemory(t *testing.T, opts engine.Options, f func(t *testing.T, h *harness)) {
	for _, tc := range []struct {
		name    string
		entries int
	}{{"retry cache", 50_000}, {"store only", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			store := memstore.New(memstore.Options{})
			t.Cleanup(func() { store.Close(context.Background()) })
			o := opts
			o.Store, o.Now, o.RetryEntries = store, func() time.Time { return t0 }, tc.entries
			f(t, &harness{e: enginetest.New(t, o), store: store})
		})
	}
}

// TestRetryReadsSignalsAgain: a retry the node remembers gets its first
// decision (id, action, score, reasons) on the signals as they are when
// it comes, as a retry reaching another node does, and is not counted
// again. The node keeps no signals for retries: they were five sixths of
// what it kept, and cost a server some 5% of its CPU a call with an
// attempt_id on every call (benchmarks/README.md).
func TestRetryReadsSignalsAgain(t *testing.T) {
	eachRetryMemory(t, engine.Options{}, func(t *testing.T, h *harness) {
		last := h.train(t, 3)
		a := paris(last.Add(time.Hour))
		a.AttemptID, a.Result = "req-1", engine.ResultPasswordBad
		first := h.score(t, a)
		b := a
		b.UserID, b.Username, b.AttemptID = "u-bob", "bob@example.com", "req-2"
		second := h.score(t, b)
		if got, want := second.Signals.IP.Usernames10m, first.Signals.IP.Usernames10m+1; got != want {
			t.Fatalf("bob's attempt from the same address: usernames_10m %d, want %d", got, want)
		}
		again := h.score(t, a)
		if again.DecisionID != first.DecisionID || again.Action != first.Action || again.Score != first.Score || reasonText(again.Reasons) != reasonText(first.Reasons) {
			t.Errorf("retry: %s %s %d %v, want the first decision %s %s %d %v", again.DecisionID, again.Action, again.Score, reasonText(again.Reasons),
				first.DecisionID, first.Action, first.Score, reasonText(first.Reasons))
		}
		if got := again.Signals.IP.Usernames10m; got != second.Signals.IP.Usernames10m {
			t.Errorf("retry's usernames_10m %d, want %d: the signals as they are now", got, second.Signals.IP.Usernames10m)
		}
		if got := again.Signals.Account.Failures1h; got != first.Signals.Account.Failures1h {
			t.Errorf("retry's account failures_1h %d, want %d: the retry counted again", got, first.Signals.Account.Failures1h)
		}
	})
}
