package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/rules"
)

// buildBinary builds riskgate once for the package's tests, with -race when
// the tests run with it (which reuses the packages compiled for the test).
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "riskgate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "riskgate")
		// -buildvcs=auto overrides a GOFLAGS=-buildvcs=false: the version
		// comes from the build info (issue 10 item 12).
		args := []string{"build", "-buildvcs=auto", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce         sync.Once
	binPath, binDir string
	binErr          error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// process is a running riskgate serve.
type process struct {
	cmd        *exec.Cmd
	mu         sync.Mutex
	log        bytes.Buffer
	http, grpc string
	done       chan error
}

// listening finds where serve listens, in its text or its JSON log.
var listening = regexp.MustCompile(`msg="riskgate listening" http=http://(\S+) grpc=(\S+)|"msg":"riskgate listening","http":"http://([^"]+)","grpc":"([^"]+)"`)

func startBinary(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	return startBinaryStdout(t, bin, env, nil, args...)
}

// startBinaryStdout is startBinary with standard output going to stdout
// (nil: with standard error, into the process's log).
func startBinaryStdout(t *testing.T, bin string, env []string, stdout *os.File, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1] + m[3], m[2] + m[4]}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-found:
		p.http, p.grpc = a[0], a[1]
	case err := <-p.done:
		t.Fatalf("riskgate exited: %v\n%s", err, p.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("riskgate did not say where it listens:\n%s", p.logs())
	}
	return p
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("riskgate did not exit after SIGTERM:\n%s", p.logs())
	}
	return p.cmd.ProcessState.ExitCode()
}

func get(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestServeBinary runs the real binary: it starts on free ports and says
// where, keeps its secrets out of its logs, serves, reloads its rules on
// SIGHUP, and on SIGTERM finishes the request in flight and exits 0.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	os.Mkdir(rulesDir, 0o755)
	os.WriteFile(filepath.Join(rulesDir, "rules.yaml"), rules.DefaultSource().Data, 0o644)
	const (
		admin   = "admin-S3CRET-token-do-not-log-1"
		scoring = "scoring-S3CRET-token-do-not-log-2"
		hmac    = "hmac-S3CRET-key-do-not-log-3456"
	)
	scoringFile := filepath.Join(dir, "scoring-token")
	os.WriteFile(scoringFile, []byte(scoring+"\n"), 0o600)
	p := startBinary(t, bin,
		[]string{"RISKGATE_ADMIN_TOKEN=" + admin, "RISKGATE_HMAC_SECRET=" + hmac, "RISKGATE_SCORING_TOKEN_FILE=" + scoringFile},
		"--rules", rulesDir, "--no-rules-watch", "--shutdown-timeout", "10s", "--log-level", "debug")

	if code := get(t, "http://"+p.http+"/readyz", "", nil); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	var rs struct {
		Version string `json:"version"`
	}
	if code := get(t, "http://"+p.http+"/v1/rules", admin, &rs); code != 200 || rs.Version == "" {
		t.Fatalf("rules: %d %v", code, rs)
	}

	// SIGHUP reloads the edited rules (file watching is off).
	edited := "version: after-hup\nrules:\n  - id: all\n    description: All.\n    when: \"true\"\n    action: step_up\n"
	os.WriteFile(filepath.Join(rulesDir, "rules.yaml"), []byte(edited), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(rs.Version, "after-hup@") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		get(t, "http://"+p.http+"/v1/rules", admin, &rs)
	}
	if !strings.HasPrefix(rs.Version, "after-hup@") {
		t.Fatalf("after SIGHUP: %s\n%s", rs.Version, p.logs())
	}

	// A request in flight when SIGTERM arrives is answered.
	conn, err := net.Dial("tcp", p.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"ip":"81.2.69.160","user_id":"carol","result":"password_ok"}`
	head := "POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + scoring + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	conn.Write([]byte(head + body[:5]))
	time.Sleep(100 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	conn.Write([]byte(body[5:]))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := io.ReadAll(io.LimitReader(conn, 1<<16))
	if !strings.HasPrefix(string(resp), "HTTP/1.1 200") || !strings.Contains(string(resp), `"rules_version":"`+rs.Version+`"`) {
		t.Fatalf("in-flight request: %q %v\n%s", resp, err, p.logs())
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", p.logs())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.logs())
	}
	logs := p.logs()
	for _, secret := range []string{admin, scoring, hmac, "S3CRET"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret (%q):\n%s", secret, logs)
		}
	}
	for _, want := range []string{"scoring_token_required=true", "admin_api=true", "shutdown complete"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeDefaults: with no flags beyond the ports, serve starts on the
// embedded defaults and exits 0 on SIGTERM.
func TestServeDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startBinary(t, buildBinary(t), nil)
	var d struct {
		Action       string `json:"action"`
		RulesVersion string `json:"rules_version"`
	}
	req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"ip":"81.2.69.160","user_id":"u","password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if resp.StatusCode != 200 || d.RulesVersion == "" {
		t.Fatalf("%d %+v", resp.StatusCode, d)
	}
	if !strings.Contains(p.logs(), "admin API disabled") || !strings.Contains(p.logs(), "origin=embedded") {
		t.Errorf("startup log:\n%s", p.logs())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
}

// TestServeRedis: with --store redis://..., state lives in Redis: a
// baseline learned through one riskgate process is there for the next,
// /readyz reports Redis's health without following it, and a random HMAC key is refused.
func TestServeRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rds := redistest.Start(t)
	bin := buildBinary(t)
	out, err := exec.Command(bin, "serve", "--store", rds.URL, "--http-addr", "127.0.0.1:0", "--grpc-addr", "").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stable secret") {
		t.Fatalf("redis without a stable HMAC key: %v\n%s", err, out)
	}
	env := []string{"RISKGATE_HMAC_SECRET=redis-test-secret-0123456789", "RISKGATE_ADMIN_TOKEN=" + strings.Repeat("a", 20)}
	login := func(p *process) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"user_id":"dave","ip":"81.2.69.160","device_id":"d","result":"password_ok","geo":{"country":"GB"}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("score: %d", resp.StatusCode)
		}
	}
	p := startBinary(t, bin, env, "--store", rds.URL)
	login(p)
	login(p)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
	// A new process, the same Redis: the profile is there.
	p = startBinary(t, bin, env, "--store", rds.URL)
	var prof struct {
		Logins int `json:"logins"`
	}
	if code := get(t, "http://"+p.http+"/v1/users/default/dave", strings.Repeat("a", 20), &prof); code != 200 || prof.Logins != 2 {
		t.Fatalf("profile from Redis: %d %+v\n%s", code, prof, p.logs())
	}
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	if code := get(t, "http://"+p.http+"/readyz", "", &ready); code != 200 || ready.Checks["store"] != "ok" {
		t.Fatalf("readyz: %d %v", code, ready)
	}
	rds.Kill()
	// Decisions are made without state while the store is down: the
	// process stays ready, the store's own check says it is down.
	if code := get(t, "http://"+p.http+"/readyz", "", &ready); code != 200 || ready.Checks["store"] != "unavailable" {
		t.Fatalf("readyz with Redis down: %d %v", code, ready)
	}
	if code := p.stop(t); code != 0 {
		t.Logf("exit %d with Redis down (the write-behind could not flush)\n%s", code, p.logs())
	}
}

// TestServePretouchLog: the start says what it decided about pretouching
// (internal/pretouch) at debug, and warns of a value of RISKGATE_PRETOUCH
// it does not understand.
func TestServePretouchLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		env, level, want string
	}{
		{"RISKGATE_PRETOUCH=always", "info", `level=WARN msg="start-up: RISKGATE_PRETOUCH is not on, off or auto; measured (auto)" value=always pretouch=`},
		{"RISKGATE_PRETOUCH=off", "debug", `msg="start-up: pretouch" mode=off on=false fault=0s populate_per_page=0s`},
		{"RISKGATE_PRETOUCH=", "debug", `msg="start-up: pretouch" mode=auto on=`},
	} {
		p := startBinary(t, bin, []string{tc.env}, "--log-level", tc.level)
		if !strings.Contains(p.logs(), tc.want) {
			t.Errorf("%s: no %q in the log:\n%s", tc.env, tc.want, p.logs())
		}
		if (tc.env == "RISKGATE_PRETOUCH=" || tc.env == "RISKGATE_PRETOUCH=always") && strings.Contains(p.logs(), "fault=0s") {
			t.Errorf("auto: the probe's costs are not logged:\n%s", p.logs())
		}
		if code := p.stop(t); code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.env, code, p.logs())
		}
	}
}
