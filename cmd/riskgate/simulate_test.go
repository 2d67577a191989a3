package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangGuard bounds each simulate run: these tests check that the command
// ends (an earlier version spun forever on some flags), and a hang must
// fail the test rather than the whole suite's timeout. It is not a
// performance bound: each run takes well under a second normally.
const hangGuard = 2 * time.Minute

func TestSimulateBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string // "" for success
	}{
		// A single day with no history: every account is created at the
		// stream's start, so attacks find no victims that existed before
		// them. It used to loop forever looking for spray targets.
		{"no history", []string{"--seed", "2", "--users", "50", "--days", "1", "--warmup-days", "0"}, ""},
		{"more spray targets than users", []string{"--users", "10", "--days", "2", "--spray-accounts", "50"}, "spray accounts 50: more than the 10 users"},
		{"more takeovers than users", []string{"--users", "10", "--days", "2", "--takeovers", "11"}, "takeovers 11: more than the 10 users"},
		{"no users", []string{"--users", "0"}, "users 0: want 1 to 10,000,000"},
		// Year 1 is Go's zero time, which the simulator reads as no date.
		{"start in year 1", []string{"--start", "0001-01-01", "--users", "10", "--days", "1"}, "--start 0001-01-01: the stream must lie within the years 2000 to 9999"},
		{"start in 1999", []string{"--start", "1999-06-01", "--users", "10", "--days", "1"}, "the stream must lie within the years 2000 to 9999"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".jsonl")
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, append([]string{"simulate", "-o", out}, tt.args...)...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("simulate %v did not end within %s", tt.args, hangGuard)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("simulate %v: %v\n%s", tt.args, err, stderr.String())
				}
				data, err := os.ReadFile(out)
				if err != nil || !bytes.Contains(data, []byte(`"label":"legit"`)) {
					t.Fatalf("simulate %v wrote no labelled traffic (%v)", tt.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("simulate %v succeeded, want an error", tt.args)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("simulate %v: stderr %q, want it to say %q", tt.args, stderr.String(), tt.wantErr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("simulate %v refused its flags but created %s", tt.args, out)
			}
		})
	}
}

// TestSimulateInterrupt starts a simulation far too large to finish,
// interrupts it once it is working, and expects it to stop on its own with
// the cancellation as its error (not killed by the signal's default
// action, which would mean it never listened).
func TestSimulateInterrupt(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "simulate", "--users", "3000000", "--days", "365", "-o", filepath.Join(t.TempDir(), "big.jsonl"))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the process has spent some CPU time: by then main has
	// installed its signal handling and the simulation is under way.
	for cpuTicks(t, cmd.Process.Pid) < 30 {
		if ctx.Err() != nil {
			t.Fatal("simulate never got going")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("simulate ignored SIGINT for %s", hangGuard)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("simulate after SIGINT: %v, want exit status 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "context canceled") {
		t.Fatalf("simulate after SIGINT said %q, want the cancellation", stderr.String())
	}
}

// cpuTicks is the user plus system time a process has used, in clock ticks
// (/proc/PID/stat fields 14 and 15).
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}
