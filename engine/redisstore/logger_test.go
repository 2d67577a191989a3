package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/loglimit"
)

// TestSlogAdapter: go-redis's lines become structured records, one per
// kind of line per interval, with the count of those left out.
func TestSlogAdapter(t *testing.T) {
	var buf bytes.Buffer
	a := &slogAdapter{log: slog.New(slog.NewJSONHandler(&buf, nil)), limit: loglimit.New(time.Hour)}
	const dial = "redis: connection pool: failed to dial after %d attempts: %v"
	for range 5 {
		a.Printf(context.Background(), dial, 1, "connection refused")
	}
	a.Printf(context.Background(), "Conn has unread data (not push notification), removing it")
	a.limit.Age(dial, 2*time.Hour)
	a.Printf(context.Background(), dial, 1, "connection refused")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 records, got %d:\n%s", len(lines), buf.String())
	}
	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		recs = append(recs, m)
	}
	if recs[0]["msg"] != "redis: connection pool: failed to dial after 1 attempts: connection refused" || recs[0]["component"] != "go-redis" || recs[0]["level"] != "WARN" {
		t.Errorf("first record: %v", recs[0])
	}
	if _, ok := recs[0]["suppressed"]; ok {
		t.Errorf("first record counts suppressed lines: %v", recs[0])
	}
	if recs[2]["suppressed"] != float64(4) {
		t.Errorf("after the interval: %v, want suppressed 4", recs[2])
	}
}
