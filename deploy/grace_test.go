package deploy_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// graceMargin is the least the shipped grace periods leave past the
// documented worst case of a shutdown, before the SIGKILL.
const graceMargin = 5 * time.Second

// worstShutdown is the README's worst case: --shutdown-delay, in-flight
// calls (and the stream's drain) within --shutdown-timeout, then queued
// alerts and the store's flush within one more --shutdown-timeout.
func worstShutdown(delay, timeout time.Duration) time.Duration { return delay + 2*timeout }

// TestGracePeriodsCoverTheShutdown: the Deployment's
// terminationGracePeriodSeconds and the systemd unit's TimeoutStopSec let
// a node stopping at its configured delay and timeout finish, with a
// margin, before it is killed.
func TestGracePeriodsCoverTheShutdown(t *testing.T) {
	// Kubernetes: the Deployment's own arguments.
	var dep map[string]any
	for _, objs := range manifests(t) {
		for _, o := range objs {
			if str(o, "kind") == "Deployment" && str(o, "metadata", "name") == "riskgate" {
				dep = o
			}
		}
	}
	if dep == nil {
		t.Fatal("no Deployment riskgate")
	}
	args := map[string]time.Duration{}
	for _, a := range list(get(dep, "spec", "template", "spec", "containers", 0), "args") {
		for _, name := range []string{"shutdown-delay", "shutdown-timeout"} {
			if v, ok := strings.CutPrefix(a.(string), "--"+name+"="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					t.Fatalf("--%s: %v", name, err)
				}
				args[name] = d
			}
		}
	}
	timeout, ok := args["shutdown-timeout"]
	if !ok {
		timeout = 15 * time.Second // the default
	}
	grace, ok := get(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if !ok {
		t.Fatal("the Deployment sets no terminationGracePeriodSeconds")
	}
	if want := worstShutdown(args["shutdown-delay"], timeout) + graceMargin; time.Duration(grace)*time.Second < want {
		t.Errorf("terminationGracePeriodSeconds %d: the shutdown may take %v (delay %v + 2 x timeout %v), want at least %v",
			grace, worstShutdown(args["shutdown-delay"], timeout), args["shutdown-delay"], timeout, want)
	}

	// systemd: the unit runs with riskgate.example.yaml.
	data, err := os.ReadFile("riskgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Shutdown struct {
			Timeout, Delay time.Duration
		}
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Shutdown.Timeout == 0 {
		cfg.Shutdown.Timeout = 15 * time.Second
	}
	unit, err := os.ReadFile("systemd/riskgate.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s?$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("the unit sets no TimeoutStopSec in seconds")
	}
	stop, _ := strconv.Atoi(string(m[1]))
	if want := worstShutdown(cfg.Shutdown.Delay, cfg.Shutdown.Timeout) + graceMargin; time.Duration(stop)*time.Second < want {
		t.Errorf("TimeoutStopSec %ds: the shutdown may take %v (delay %v + 2 x timeout %v), want at least %v",
			stop, worstShutdown(cfg.Shutdown.Delay, cfg.Shutdown.Timeout), cfg.Shutdown.Delay, cfg.Shutdown.Timeout, want)
	}
}
