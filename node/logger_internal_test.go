package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestJSONLogDurations: --log-format json writes a duration as "15s", as
// the text format does, not as nanoseconds ("shutdown_timeout":15000000000
// in the configuration line of serve --config deploy/riskgate.example.yaml).
func TestJSONLogDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := slog.New(LogConfig{Format: format, Level: "info"}.handler(&buf))
		log.Info("configuration", "shutdown_timeout", 15*time.Second, slog.Group("rules", "debounce", 250*time.Millisecond), "n", 3)
		line := buf.String()
		if format == "text" {
			if !strings.Contains(line, "shutdown_timeout=15s") || !strings.Contains(line, "rules.debounce=250ms") {
				t.Errorf("text: %s", line)
			}
			continue
		}
		var got struct {
			ShutdownTimeout any `json:"shutdown_timeout"`
			Rules           struct {
				Debounce any `json:"debounce"`
			} `json:"rules"`
			N any `json:"n"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got.ShutdownTimeout != "15s" || got.Rules.Debounce != "250ms" || got.N != 3.0 {
			t.Errorf("json: %s: want shutdown_timeout \"15s\", rules.debounce \"250ms\", n 3", line)
		}
	}
}
