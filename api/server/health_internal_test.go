package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestCheckLogKeysFailuresByKind: a failing readiness check is logged
// when it starts to fail or fails for another reason, then each kind of
// failure at most once a minute with the number left out since, and once
// when it passes again. An error whose text changes at every failure (a
// local port, a duration) is one kind: it was keyed by its text, and
// logged at every /readyz request.
func TestCheckLogKeysFailuresByKind(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	type step struct {
		at  time.Duration
		err string // "": the check passes
	}
	// every is n failures, one every d from the start.
	every := func(d time.Duration, n int, text func(i int) string) []step {
		var out []step
		for i := range n {
			out = append(out, step{time.Duration(i) * d, text(i)})
		}
		return out
	}
	// repeat is n lines that each contain part.
	repeat := func(n int, part string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = part
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string // each line logged contains its part, in order
	}{
		{
			name: "a port that changes at every failure",
			steps: every(time.Second, 300, func(i int) string {
				return fmt.Sprintf("dial tcp 192.0.2.10:%d->192.0.2.10:6379: i/o timeout", 40000+i)
			}),
			want: append([]string{`level=WARN msg="health check failed" check=store optional=true err="dial tcp 192.0.2.10:40000->192.0.2.10:6379: i/o timeout"` + "\n"},
				repeat(4, "i/o timeout\" suppressed=59\n")...),
		},
		{
			name: "a duration that changes at every failure",
			steps: every(time.Second, 180, func(i int) string {
				return fmt.Sprintf("redis: ping took %v, over its timeout", time.Second+time.Duration(i)*time.Millisecond)
			}),
			want: []string{`err="redis: ping took 1s, over its timeout"` + "\n", `err="redis: ping took 1.06s, over its timeout" suppressed=59`, `err="redis: ping took 1.12s, over its timeout" suppressed=59`},
		},
		{
			name: "another kind of failure is logged at once, each kind once a minute",
			steps: []step{
				{0, "dial tcp 10.0.0.7:6379: connect: connection refused"},
				{time.Second, "dial tcp 10.0.0.7:6379: connect: connection refused"},
				{2 * time.Second, "OOM command not allowed"},
				{3 * time.Second, "dial tcp 10.0.0.8:6379: connect: connection refused"},
				{4 * time.Second, "OOM command not allowed"},
				{61 * time.Second, "dial tcp 10.0.0.7:6379: connect: connection refused"},
				{62 * time.Second, "OOM command not allowed"},
			},
			want: []string{
				`err="dial tcp 10.0.0.7:6379: connect: connection refused"` + "\n",
				`err="OOM command not allowed"` + "\n",
				`err="dial tcp 10.0.0.7:6379: connect: connection refused" suppressed=2`,
				`err="OOM command not allowed" suppressed=1`,
			},
		},
		{
			name: "passing again is logged with the failures left out, failing again at once",
			steps: []step{
				{0, "kafka: the last exchange with the brokers failed"},
				{time.Second, "kafka: the last exchange with the brokers failed"},
				{2 * time.Second, "kafka: the last exchange with the brokers failed"},
				{3 * time.Second, ""},
				{4 * time.Second, ""},
				{5 * time.Second, "kafka: the last exchange with the brokers failed"},
			},
			want: []string{
				`err="kafka: the last exchange with the brokers failed"` + "\n",
				`level=INFO msg="health check passes again" check=store optional=true suppressed=2` + "\n",
				`level=WARN msg="health check failed" check=store optional=true err="kafka: the last exchange with the brokers failed"` + "\n",
			},
		},
		{
			name: "the kinds remembered are bounded, and so are the lines",
			steps: append(every(time.Second/2, 100, func(i int) string {
				return "unexpected reply " + strings.Repeat("x", i)
			}), step{time.Minute, ""}),
			want: append(repeat(checkKindsMax, "unexpected reply "), fmt.Sprintf("passes again\" check=store optional=true suppressed=%d\n", 100-checkKindsMax)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			log := slog.New(slog.NewTextHandler(&out, nil))
			var l checkLog
			c := Check{Name: "store", Optional: true}
			for _, s := range tc.steps {
				if s.err == "" {
					l.passed(log, c)
				} else {
					l.failed(log, c, errors.New(s.err), t0.Add(s.at))
				}
			}
			// Each line with its newline, for the parts to match a line's end.
			lines := strings.SplitAfter(out.String(), "\n")
			lines = lines[:len(lines)-1]
			if len(lines) != len(tc.want) {
				t.Fatalf("%d steps: %d lines logged, want %d:\n%s", len(tc.steps), len(lines), len(tc.want), strings.Join(lines[:min(len(lines), 8)], ""))
			}
			for i, line := range lines {
				if !strings.Contains(line, tc.want[i]) {
					t.Errorf("line %d:\n%swant it to contain\n%s", i, line, tc.want[i])
				}
			}
		})
	}
}
