package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/node"
)

// A capture's retention and rotation that engine/capture refuses are
// refused naming serve's flags, not the library's options.
func TestCaptureSettingsNamed(t *testing.T) {
	t.Setenv("RISKGATE_HMAC_SECRET", captureSecret)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name           string
		retention, age time.Duration
		want           string // "": starts
	}{
		{"retention too long", 10000 * time.Hour, 0, "capture: --capture-retention 10000h0m0s is longer than the most, 9600h0m0s (400 days)"},
		{"files outlive the default retention", 0, 200 * time.Hour, "capture: --capture-max-file-age 200h0m0s is longer than --capture-retention 168h0m0s"},
		{"files outlive the retention", time.Hour, 2 * time.Hour, "capture: --capture-max-file-age 2h0m0s is longer than --capture-retention 1h0m0s"},
		{"the default age outlives a short retention", 30 * time.Minute, 0, "--capture-max-file-age 1h0m0s is longer than --capture-retention 30m0s"},
		{"the longest retention", 400 * day, 0, ""},
		{"files as long as the retention", 2 * time.Hour, 2 * time.Hour, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := node.Config{Capture: node.CaptureConfig{Dir: t.TempDir(), Retention: tc.retention, MaxFileAge: tc.age}}
			n, err := node.New(context.Background(), cfg, node.WithLogger(quiet()))
			if err == nil {
				n.Close(context.Background())
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}
