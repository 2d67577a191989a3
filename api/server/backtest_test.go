package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBacktestBodyIsOptional: every field of a backtest request is
// optional, and so is the body: none at all is {} (curl -X POST, or
// curl -d "", which says form data). Only no body: white space, or
// anything else that is not a JSON object, is refused naming the problem.
func TestBacktestBodyIsOptional(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, capture: true})
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), adminToken, `{"user_id":"u1","ip":"81.2.69.160","time":"2026-05-04T09:00:00Z"}`, nil); code != 200 {
		t.Fatalf("score: %d", code)
	}
	tests := []struct {
		name, contentType, body string
		code                    int
		want                    string // in the error's message
	}{
		{"no body", "", "", 200, ""},
		{"no body, JSON", "application/json", "", 200, ""},
		{"no body, form (curl -d \"\")", "application/x-www-form-urlencoded", "", 200, ""},
		{"no body, YAML", "application/yaml", "", 200, ""},
		{"{}", "application/json", "{}", 200, ""},
		{"white space", "application/json", " \n", 400, "request body: only white space"},
		{"not JSON", "application/json", "files", 400, "request body: invalid JSON"},
		{"a form", "application/x-www-form-urlencoded", "samples=1", 415, "send Content-Type: application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, data := adminRaw(t, "POST", ts.url("/v1/rules:backtest"), tt.contentType, tt.body)
			if code != tt.code {
				t.Fatalf("%d %s, want %d", code, data, tt.code)
			}
			if tt.code == 200 {
				var rep struct {
					Attempts int `json:"attempts"`
				}
				if err := json.Unmarshal(data, &rep); err != nil || rep.Attempts != 1 {
					t.Errorf("report %s (%v): want the one attempt scored", data, err)
				}
				return
			}
			var e apiError
			if err := json.Unmarshal(data, &e); err != nil || !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("error %s, want %q", data, tt.want)
			}
		})
	}
}
