// Package clienttest runs a real riskgate server for the tests of code that
// uses package client: the riskgate binary, built from this module (or
// taken from RISKGATE_BIN), serving on loopback ports the kernel chose, and
// killed, stopped or restarted at will, so that a login flow can be tested
// against riskgate answering, hanging up or dying.
//
//	func TestMain(m *testing.M) { clienttest.Main(m) }
//
//	func TestLogin(t *testing.T) {
//		rg := clienttest.Start(t)
//		c, _ := client.New(client.Options{Target: rg.GRPC, Failover: client.StepUp})
//		...
//	}
package clienttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/freeport"
)

// binary is the riskgate that Start runs, set by Main.
var binary string

// Main builds riskgate once for the test binary, runs setup (which may
// Launch servers shared by the tests or examples), runs the tests, calls
// the function setup returned, removes the binary and exits. Call it from
// TestMain. With RISKGATE_BIN set, that binary is used and nothing is
// built.
func Main(m *testing.M, setup ...func() (teardown func())) {
	os.Exit(run(m, setup))
}

func run(m *testing.M, setup []func() func()) int {
	if bin := os.Getenv("RISKGATE_BIN"); bin != "" {
		binary = bin
	} else {
		dir, err := os.MkdirTemp("", "riskgate-clienttest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "clienttest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if binary, err = Build(context.Background(), dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	for _, f := range setup {
		if teardown := f(); teardown != nil {
			defer teardown()
		}
	}
	return m.Run()
}

// Build compiles riskgate's command into dir and returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "riskgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/riskgate/riskgate/cmd/riskgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("clienttest: go build riskgate: %w\n%s", err, out)
	}
	return bin, nil
}

// Server is a running riskgate.
type Server struct {
	// HTTP is the HTTP/JSON API's base URL ("http://127.0.0.1:PORT").
	HTTP string
	// GRPC is the gRPC address ("127.0.0.1:PORT").
	GRPC string

	fail     func(format string, args ...any)
	args     []string
	httpAddr string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	log      bytes.Buffer
}

// Start runs `riskgate serve` with args added to its flags, on free
// loopback ports, and returns once /readyz answers. The test's cleanup
// kills it. Main must have run.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := launch(t.Fatalf, args)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// Launch is Start outside a test (in a Main setup function); the caller
// kills the server.
func Launch(args ...string) (*Server, error) {
	return launch(func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}, args)
}

func launch(fail func(string, ...any), args []string) (*Server, error) {
	if binary == "" {
		return nil, errors.New("clienttest: no riskgate binary: call clienttest.Main from TestMain")
	}
	// The ports found free can be taken before riskgate binds them:
	// freeport starts it again on others.
	return freeport.Start(freeport.Options{Ports: 2, Free: freeAddr}, func(ports []netip.AddrPort) (*Server, error) {
		s := &Server{fail: fail, args: args, httpAddr: ports[0].String(), GRPC: ports[1].String()}
		s.HTTP = "http://" + s.httpAddr
		if err := s.start(); err != nil {
			s.Kill()
			return nil, err
		}
		return s, nil
	})
}

// freeAddr asks the kernel for a free loopback port (a variable: a test
// hands out a taken one).
var freeAddr = freeport.Addr

func (s *Server) start() error {
	args := append([]string{"serve", "--http-addr", s.httpAddr, "--grpc-addr", s.GRPC}, s.args...)
	cmd := exec.Command(binary, args...)
	w := &lockedWriter{mu: &s.mu, buf: &s.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clienttest: start riskgate: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(s.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			log := s.Logs()
			return freeport.Taken(fmt.Errorf("clienttest: riskgate exited before it was ready:\n%s", log), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clienttest: riskgate not ready after 30s:\n%s", s.Logs())
		}
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer
// would: no draining, connections reset. It is a no-op when not running.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Pause freezes the process with SIGSTOP, as a node stuck in a long
// pause or on a dead disk: its connections stay open and its kernel still
// accepts new ones, but nothing answers. Resume or Kill ends it.
func (s *Server) Pause() { s.freeze(syscall.SIGSTOP) }

// Resume lets a paused process run again (SIGCONT).
func (s *Server) Resume() { s.freeze(syscall.SIGCONT) }

func (s *Server) freeze(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(sig); err != nil {
		s.fail("clienttest: signal riskgate: %v", err)
	}
}

// Stop ends the process with SIGTERM: a graceful shutdown.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.fail("clienttest: signal riskgate: %v", err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		s.fail("clienttest: riskgate ignored %v for 30s", sig)
	}
}

// Restart starts riskgate again on the same addresses, with the same
// flags, after Kill or Stop. Its state starts empty (a memory store).
func (s *Server) Restart() {
	s.Kill()
	if err := s.start(); err != nil {
		s.fail("%v", err)
	}
}

// Logs is what riskgate printed.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
