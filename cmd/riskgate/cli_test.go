package main

import (
	"errors"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"os"
	"path/filepath"
)

func TestDescribeVersion(t *testing.T) {
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "e0de396abcdef0123456789abcdef0123456789a"
	for _, tc := range []struct {
		name string
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", "", nil, "(devel)"},
		{"ldflags", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "v1.2.3"},
		{"go install module@tag", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"go build in a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204042428-e0de396abcde"}, Settings: vcs(rev, "2026-12-04T04:24:28Z", "false")},
			"v0.0.0-20261204042428-e0de396abcde (2026-12-04T04:24:28Z)"},
		{"edited checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204042428-e0de396abcde+dirty"}, Settings: vcs(rev, "2026-12-04T04:24:28Z", "true")},
			"v0.0.0-20261204042428-e0de396abcde+dirty (2026-12-04T04:24:28Z)"},
		{"devel with a commit", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "", "true")}, "(devel) (commit e0de396abcde, modified)"},
	} {
		if got := describe(tc.set, tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCLIFriction (issue 10 item 12) runs the binary: --version works and
// says the same as the version command, naming the commit it was built
// from; a bad configuration key or flag gives the one useful line and
// where to read more, not the whole usage.
func TestCLIFriction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	flag, code := run("--version")
	cmd, _ := run("version")
	if code != 0 || flag != cmd || !strings.HasPrefix(flag, "riskgate ") || strings.Contains(flag, " dev ") {
		t.Fatalf("--version: exit %d %q; version: %q", code, flag, cmd)
	}
	// The commit the build recorded (none in a git worktree, whose .git
	// is a file go build does not look into) is named.
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(info), "\n") {
		if _, rev, ok := strings.Cut(l, "vcs.revision="); ok && !strings.Contains(flag, rev[:12]) {
			t.Errorf("--version %q does not name the commit %s it was built from", flag, rev[:12])
		}
	}

	cfg := filepath.Join(t.TempDir(), "riskgate.yaml")
	os.WriteFile(cfg, []byte("http:\n  addr: 127.0.0.1:0\nbogus_key: 1\n"), 0o644)
	neg := filepath.Join(t.TempDir(), "negative.yaml")
	os.WriteFile(neg, []byte("attempt_window: -1m\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--config", cfg}, `:3: unknown key "bogus_key"`},
		{[]string{"serve", "--bogus"}, "unknown flag --bogus"},
		{[]string{"rules", "chek"}, `did you mean "check"`},
		// A negative bound is refused, not taken as the default or as
		// no bound at all; from the config file too, named by its line.
		{[]string{"serve", "--store-timeout=-1s"}, "--store-timeout: -1s is negative"},
		{[]string{"serve", "--config", neg}, "negative.yaml:1: attempt_window: -1m is negative; it takes 0 or more"},
		{[]string{"serve", "--memory-max-retries=-2"}, "it takes -1 or a value of 0 or more"},
		// So is a duration too short to mean anything.
		{[]string{"serve", "--rules-poll=1ns"}, "--rules-poll: 1ns is under a second; a poll takes 1s or more"},
		{[]string{"serve", "--shutdown-timeout=15us"}, "--shutdown-timeout: 15µs is under a millisecond"},
	} {
		out, code := run(tc.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 80 || len(lines) > 2 || !strings.Contains(lines[0], tc.want) || !strings.Contains(out, "--help") {
			t.Errorf("%v: exit %d, %d lines:\n%s", tc.args, code, len(lines), out)
		}
	}
}

// TestCompletion: the bash script completes commands, subcommands and
// flags as bash calls it; zsh and fish scripts are written.
func TestCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := `source <("$BIN" completion bash)
t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _riskgate_complete; echo "${COMPREPLY[*]}"; }
t riskgate se
t riskgate rules c
t riskgate serve --http-a
t riskgate breached build --fp
t riskgate v
`
	c := exec.Command(bash, "-c", script)
	c.Env = append(os.Environ(), "BIN="+bin)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "serve\ncheck\n--http-addr\n--fpr\nversion\n"
	if string(out) != want {
		t.Errorf("bash completions:\n%s\nwant:\n%s", out, want)
	}
	for _, sh := range []string{"zsh", "fish"} {
		out, err := exec.Command(bin, "completion", sh).Output()
		if err != nil || !strings.Contains(string(out), "serve") || !strings.Contains(string(out), "http-addr") {
			t.Errorf("completion %s: %v\n%s", sh, err, out)
		}
	}
	if out, err := exec.Command(bin, "completion", "tcsh").CombinedOutput(); err == nil {
		t.Errorf("completion tcsh accepted:\n%s", out)
	}
}
