package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// FuzzAttemptJSON feeds arbitrary bytes through the attempt decoder and the
// engine: decoding may fail, scoring may reject the attempt, but nothing
// may panic, and a rejection must always name a field.
func FuzzAttemptJSON(f *testing.F) {
	seeds := []string{
		`{"ip":"81.2.69.160","user_id":"u1","username":"Alice","result":"password_ok","geo":{"country":"fr","lat":48.8,"lon":2.3}}`,
		`{"ip":"2001:db8::1","password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8","attributes":{"app":"web"}}`,
		`{"ip":"::ffff:1.2.3.4","time":"2026-01-01T00:00:00Z","device_id":"d","user_agent":"curl/8"}`,
		`{"ip":"fe80::1%eth0"}`, `{"ip":""}`, `{}`, `{"geo":{"lat":91}}`, `{"tenant":"a b","ip":"1.1.1.1"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	h := newHarness(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		var a engine.Attempt
		if err := json.Unmarshal(data, &a); err != nil {
			return
		}
		d, err := h.e.Score(context.Background(), a)
		if err != nil {
			var fe *engine.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("rejection without a field: %v", err)
			}
			return
		}
		if d.Action < engine.ActionAllow || d.Action > engine.ActionDeny || d.Score < 0 || d.Score > 100 {
			t.Fatalf("decision out of range: %s %d", d.Action, d.Score)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("decision does not encode: %v", err)
		}
	})
}
