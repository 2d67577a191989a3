// Package redistest starts private redis-server processes for tests: one
// server on a free loopback port with no persistence, or a small Redis
// Cluster. Tests never touch a shared Redis (such as one on 6379).
//
// When redis-server is not installed the test is skipped, unless the
// environment variable RISKGATE_REQUIRE_REDIS is set (CI sets it), in which
// case it fails: a CI run must not pass by skipping the Redis tests.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/freeport"
)

// RequireEnv is the environment variable that turns a missing redis-server
// into a failure instead of a skip.
const RequireEnv = "RISKGATE_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is a private redis-server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// URL is redis://Addr, for redis.ParseURL and the Redis store.
	URL string
	// Port is the TCP port.
	Port int
	// TLSAddr and TLSURL (rediss://TLSAddr) are the TLS port of a
	// server started with StartTLS; empty otherwise.
	TLSAddr, TLSURL string

	t    testing.TB
	dir  string
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// Start launches a private redis-server on a free 127.0.0.1 port, with no
// persistence and a temporary working directory, waits until it answers
// PING, and stops it when the test ends. Extra arguments are passed to
// redis-server (for example "--maxmemory", "10mb").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, nil, extra)
}

// TLSFiles are a TLS port's PEM files: the server's certificate and key,
// and the CA that clients' certificates must chain to.
type TLSFiles struct {
	Cert, Key, CA string
}

// StartTLS starts a server as Start does, with a TLS port besides its
// plain one (which Do and Ping use). The TLS port asks clients for a
// certificate chaining to files.CA, as Redis does by default
// (tls-auth-clients yes).
func StartTLS(t testing.TB, files TLSFiles, extra ...string) *Server {
	t.Helper()
	return start(t, &files, extra)
}

func start(t testing.TB, files *TLSFiles, extra []string) *Server {
	t.Helper()
	bin := Binary(t)
	ports := 1
	if files != nil {
		ports = 2
	}
	s, err := freeport.Start(freeport.Options{Ports: ports}, func(ports []netip.AddrPort) (*Server, error) {
		port := int(ports[0].Port())
		// A folder of its own: the log of a start on a taken port
		// does not make the next one's failure look the same.
		s := &Server{Addr: ports[0].String(), Port: port, t: t, dir: t.TempDir()}
		s.URL = "redis://" + s.Addr
		s.args = []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", s.dir, "--protected-mode", "yes", "--logfile", filepath.Join(s.dir, "redis.log"),
			"--daemonize", "no",
		}
		if files != nil {
			s.TLSAddr = ports[1].String()
			s.TLSURL = "rediss://" + s.TLSAddr
			s.args = append(s.args, "--tls-port", strconv.Itoa(int(ports[1].Port())),
				"--tls-cert-file", files.Cert, "--tls-key-file", files.Key, "--tls-ca-cert-file", files.CA)
		}
		s.args = append(s.args, extra...)
		return s, s.start(bin)
	})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Binary returns the path of redis-server, skipping or failing the test
// when it is absent (see RequireEnv).
func Binary(t testing.TB) string {
	t.Helper()
	return lookPath(t, "redis-server")
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("redistest: %s not found in PATH and %s is set: install it (apt-get install -y redis-server)", name, RequireEnv)
		return ""
	}
	t.Skipf("redistest: %s not found in PATH; install redis-server to run this test (set %s to make this a failure)", name, RequireEnv)
	return ""
}

func (s *Server) start(bin string) error {
	cmd := exec.Command(bin, s.args...)
	cmd.Dir = s.dir
	setParentDeath(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		err := Ping(s.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			// Start tries other ports when this one was taken.
			log := s.logTail()
			return freeport.Taken(fmt.Errorf("redis-server on %s exited at start: %s", s.Addr, log), log)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on %s did not answer PING within %v (%v): %s", s.Addr, startTimeout, err, s.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server abruptly (SIGKILL), as a crash would, and waits
// for the process to exit. Clients see their connections reset.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Pause freezes the server (SIGSTOP): connections stay open and requests
// go unanswered, as with an overloaded or partitioned server. Resume undoes
// it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Restart starts the server again on the same port, after Kill or Stop.
// The data is gone: there is no persistence.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel has
	// not released it yet.
	for range 50 {
		if err = s.start(Binary(s.t)); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// Stop stops the server. It is called at the end of the test; calling it
// earlier is harmless.
func (s *Server) Stop() { s.Kill() }

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Do sends one command with plain RESP and returns the first reply line,
// without a client library: enough for CONFIG SET, FLUSHALL and the like.
func (s *Server) Do(args ...string) (string, error) { return Do(s.Addr, args...) }

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Ping reports whether a Redis server at addr answers PING.
func Ping(addr string) error {
	r, err := Do(addr, "PING")
	if err != nil {
		return err
	}
	if r != "+PONG" {
		return fmt.Errorf("PING answered %q", r)
	}
	return nil
}

// Do sends one command to addr and returns the first line of the reply.
func Do(addr string, args ...string) (string, error) {
	c, r, err := send(addr, args)
	if err != nil {
		return "", err
	}
	defer c.Close()
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return line, errors.New(line[1:])
	}
	return line, nil
}

// send opens a connection to addr, writes one command in RESP and returns
// the connection (the caller closes it) and a reader for the reply.
func send(addr string, args []string) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReader(c), nil
}

// Cluster is a private Redis Cluster of masters without replicas.
type Cluster struct {
	Nodes []*Server
	// Addrs are the nodes' host:port.
	Addrs []string
	// URL is a cluster URL in the form redis.ParseClusterURL accepts:
	// redis://first?addr=second&addr=third.
	URL string
}

// StartCluster starts n (at least 3) cluster-enabled servers and joins
// them with redis-cli --cluster create. It skips (or fails, see RequireEnv)
// when redis-cli is missing.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, got %d", n)
	}
	cli := lookPath(t, "redis-cli")
	c := &Cluster{}
	for range n {
		dir := t.TempDir()
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node sees all slots assigned and the cluster ok.
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := bulk(s.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s not ok: %v %q", s.Addr, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.URL = "redis://" + c.Addrs[0]
	for i, a := range c.Addrs[1:] {
		if i == 0 {
			c.URL += "?addr=" + a
		} else {
			c.URL += "&addr=" + a
		}
	}
	return c
}

// bulk sends a command whose reply is a bulk string and returns it.
func bulk(addr string, args ...string) (string, error) {
	c, r, err := send(addr, args)
	if err != nil {
		return "", err
	}
	defer c.Close()
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, fmt.Errorf("not a bulk reply: %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("bad bulk length %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
