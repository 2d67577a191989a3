package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/engine"
)

// RequireKcatEnv makes a missing kcat fail the interop test instead of
// skipping it; CI sets it.
const RequireKcatEnv = "RISKGATE_REQUIRE_KCAT"

func kcatBinary(t *testing.T) string {
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv(RequireKcatEnv) != "" {
			t.Fatalf("kcat not found and %s is set: apt-get install -y kcat", RequireKcatEnv)
		}
		t.Skip("kcat not installed (apt-get install -y kcat)")
	}
	return path
}

func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatBinary(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestKcatInterop has a client nobody here wrote, librdkafka's kcat,
// produce attempts (keyed, with librdkafka's murmur2 partitioner, the
// Java-compatible one) and consume the alerts: the attempts land where
// Partition says, and the alerts are the ones the engine gives.
func TestKcatInterop(t *testing.T) {
	kcatBinary(t)
	c := startCluster(t, 4)
	var all []engine.Attempt
	for u := range 8 {
		all = append(all, userJourney(u)...)
	}
	var in bytes.Buffer
	for _, a := range all {
		v, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&in, "%s|%s\n", Key(a.Tenant, a.UserID), v)
	}
	kcat(t, in.Bytes(), "-b", c.addrs[0], "-t", tAttempts, "-P", "-K", "|", "-X", "topic.partitioner=murmur2_random")

	for _, m := range readTopic(t, c, tAttempts, len(all)) {
		if want := Partition(m.Key, 4); m.Partition != want {
			t.Fatalf("kcat put key %q in partition %d, riskgate's partitioner says %d", m.Key, m.Partition, want)
		}
	}

	want := direct(t, [][]engine.Attempt{all})
	alerting := map[string]bool{}
	for id, d := range want {
		if d.Alert {
			alerting[id] = true
		}
	}
	r := start(t, testOptions(c), NewTestEngine(t, engine.Options{}))
	var got map[string]alert.Alert
	waitFor(t, "kcat to read every alert", func() bool {
		out := kcat(t, nil, "-b", c.addrs[0], "-t", tAlerts, "-C", "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
		got = map[string]alert.Alert{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			key, value, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			var a alert.Alert
			if err := json.Unmarshal([]byte(value), &a); err != nil {
				t.Fatalf("kcat read %q: %v", line, err)
			}
			if key != string(AlertKey(&a)) {
				t.Fatalf("alert keyed %q, want %q", key, AlertKey(&a))
			}
			got[a.AttemptID] = a
		}
		return len(got) >= len(alerting)
	})
	r.stop(t)
	for id := range alerting {
		a, ok := got[id]
		if !ok {
			t.Fatalf("no alert for %s", id)
		}
		if a.Schema != alert.SchemaID || a.Action != want[id].Action || a.Score != want[id].Score {
			t.Fatalf("alert %+v for decision %+v", a, want[id])
		}
	}
	if len(got) != len(alerting) {
		t.Fatalf("%d alerts, want %d", len(got), len(alerting))
	}
}
