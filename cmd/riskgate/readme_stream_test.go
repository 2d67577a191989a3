package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestReadmeStreamExample runs the README's stream example as written:
// its riskgate serve command (on free ports), its kcat lines, against an
// in-process broker standing in for kafka:9092, with the topics its
// kafka-topics.sh loop would create. A missing kcat fails the test when
// RISKGATE_REQUIRE_KCAT is set (CI), and skips it otherwise.
func TestReadmeStreamExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, prog := range []string{"kcat", "jq"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("RISKGATE_REQUIRE_KCAT") != "" {
				t.Fatalf("%s not found and RISKGATE_REQUIRE_KCAT is set: apt-get install -y %s", prog, prog)
			}
			t.Skipf("%s not installed (apt-get install -y %s)", prog, prog)
		}
	}
	serve, produce, read := readmeStreamExample(t)

	kc, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(12, "login-attempts", "login-outcomes", "risk-decisions", "risk-alerts", "risk-dead-letters"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	broker := kc.ListenAddrs()[0]
	for i := range serve {
		serve[i] = strings.ReplaceAll(serve[i], "kafka:9092", broker)
	}
	p := startBinary(t, buildBinary(t), nil, serve...)

	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", strings.ReplaceAll(script, "kafka:9092", broker))
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s\nriskgate:\n%s", script, err, stderr.String(), p.logs())
		}
		return out.String()
	}
	sh(produce)
	brokers := []string{broker}
	readAll(t, brokers, "risk-decisions", 12)
	readAll(t, brokers, "risk-alerts", 1)
	out := strings.Split(strings.TrimSpace(sh(read)), "\n")
	decisions, alerts := 0, 0
	for _, line := range out {
		switch {
		case strings.HasPrefix(line, "acme/user"):
			decisions++
		case strings.HasPrefix(line, "{"):
			var a struct {
				AlertID string   `json:"alert_id"`
				Action  string   `json:"action"`
				Rules   []string `json:"rules"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("alert line %q: %v", line, err)
			}
			if a.AlertID == "" || len(a.Rules) == 0 {
				t.Errorf("alert line %q: no id or no rules", line)
			}
			alerts++
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if decisions != 12 || alerts == 0 {
		t.Errorf("the example printed %d decisions and %d alerts, want 12 and some:\n%s", decisions, alerts, strings.Join(out, "\n"))
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// readmeStreamExample cuts the README's stream example into the serve
// command's arguments and the shell that produces and reads.
func readmeStreamExample(t *testing.T) (serve []string, produce, read string) {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "## Streams and alerts")
	if i < 0 {
		t.Fatal("README has no Streams and alerts section")
	}
	text = text[i:]
	start := strings.Index(text, "```sh\n")
	end := strings.Index(text[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no sh block in the Streams and alerts section")
	}
	lines := strings.Split(text[start+6:start+6+end], "\n")
	var rest []string
	for j := 0; j < len(lines); j++ {
		l := lines[j]
		switch {
		case strings.HasPrefix(l, "for t in ") && j+2 < len(lines) && strings.Contains(lines[j+1], "kafka-topics.sh"):
			j += 2 // the topics: the broker of the test has them
		case strings.HasPrefix(l, "riskgate serve "):
			cmd := ""
			for ; j < len(lines); j++ {
				cmd += strings.TrimSuffix(lines[j], "\\") + " "
				if !strings.HasSuffix(lines[j], "\\") {
					break
				}
			}
			f := strings.Fields(cmd)
			if f[len(f)-1] != "&" {
				t.Fatalf("the serve command does not run in the background: %q", cmd)
			}
			serve = f[2 : len(f)-1]
		default:
			rest = append(rest, l)
		}
	}
	script := strings.Join(rest, "\n")
	k := strings.Index(script, "# read")
	if serve == nil || k < 0 {
		t.Fatalf("cannot cut the example into serve, produce and read:\n%s", script)
	}
	return serve, script[:k], script[k:]
}
