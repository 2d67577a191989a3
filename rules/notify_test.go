package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func TestNotify(t *testing.T) {
	s, err := compile(t, `
rules:
  - id: new-device
    description: New device.
    when: device.new
    score: 15
    notify: new_device
  - id: new-device-again
    description: New device, told once.
    when: device.new
    notify: new_device
  - id: new-country
    description: New country.
    when: geo.new_country
    notify: new_country
  - id: trial
    description: Trial notification.
    when: device.new
    notify: trial_kind
    mode: shadow
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     engine.Env
		notify  []string
		reasons []string
	}{
		{"nothing", engine.Env{}, nil, nil},
		{"kinds once, in rule order", engine.Env{Device: engine.DeviceEnv{New: true}, Geo: engine.GeoEnv{NewCountry: true}},
			[]string{"new_device", "new_country"}, []string{"new-device", "new-device-again", "new-country"}},
		{"a notify-only rule is a reason with no score", engine.Env{Geo: engine.GeoEnv{NewCountry: true}}, []string{"new_country"}, []string{"new-country"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v engine.Verdict
			s.Evaluate(&tt.env, &v)
			if !slices.Equal(v.Notify, tt.notify) {
				t.Errorf("notify %v, want %v", v.Notify, tt.notify)
			}
			if got := ids(v.Reasons); !slices.Equal(got, tt.reasons) {
				t.Errorf("reasons %v, want %v", got, tt.reasons)
			}
			if v.Action != engine.ActionNone {
				t.Errorf("action %s: notify must not decide", v.Action)
			}
			for _, r := range v.Shadow {
				if r.RuleID == "trial" && r.Notify != "trial_kind" {
					t.Errorf("shadow reason notify %q", r.Notify)
				}
			}
		})
	}
}

func TestNotifyKindErrors(t *testing.T) {
	for _, kind := range []string{"New-Device", "1st", "new device", strings.Repeat("a", 33), "'[x]'"} {
		_, err := compile(t, "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    notify: "+kind+"\n")
		if err == nil || !strings.Contains(err.Error(), "r.yaml:2:") || !strings.Contains(err.Error(), "notify") {
			t.Errorf("notify %s: error %v, want one naming r.yaml:2 and notify", kind, err)
		}
	}
	_, err := compile(t, "rules:\n  - id: a\n    description: d\n    when: \"true\"\n    notify: [a, b]\n")
	if err == nil || !strings.Contains(err.Error(), "r.yaml:5") {
		t.Errorf("notify list: error %v, want one at r.yaml:5", err)
	}
}

func TestNotifyKindsLeaveOutFailedAndDenied(t *testing.T) {
	kinds := []string{"new_device"}
	for _, tt := range []struct {
		action engine.Action
		result engine.Result
		want   bool
	}{
		{engine.ActionAllow, engine.ResultPasswordOK, true},
		{engine.ActionStepUp, engine.ResultPasswordOK, true},
		{engine.ActionAllow, engine.ResultUnknown, true},
		{engine.ActionDeny, engine.ResultPasswordOK, false},
		{engine.ActionAllow, engine.ResultPasswordBad, false},
		{engine.ActionStepUp, engine.ResultNoSuchUser, false},
	} {
		if got := engine.NotifyKinds(kinds, tt.action, tt.result) != nil; got != tt.want {
			t.Errorf("%s %s: notify %v, want %v", tt.action, tt.result, got, tt.want)
		}
	}
}
