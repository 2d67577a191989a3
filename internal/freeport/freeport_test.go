package freeport_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/internal/freeport"
)

// serveEnv makes the test binary a server in another process, as the
// servers freeport starts are: it binds the address the variable names,
// says "listening" on its standard output and exits; a bind that fails
// is printed as a Go server prints it, and exits 1.
const serveEnv = "FREEPORT_TEST_SERVE"

func TestMain(m *testing.M) {
	if addr := os.Getenv(serveEnv); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		l.Close()
		fmt.Println("listening")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serve runs the test binary as a server on port, as a harness runs
// riskgate, and returns its error marked by freeport.Taken from its log.
func serve(port netip.AddrPort) (string, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"="+port.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", freeport.Taken(fmt.Errorf("server on %s: %w: %s", port, err, out), string(out))
	}
	return port.String(), nil
}

// holdFirst hands out the port held by l once, then free ones: the first
// start meets a port taken between the kernel's answer and the bind.
func holdFirst(t *testing.T) (free func() (netip.AddrPort, error), held netip.AddrPort, calls *int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	held = l.Addr().(*net.TCPAddr).AddrPort()
	calls = new(int)
	return func() (netip.AddrPort, error) {
		*calls++
		if *calls == 1 {
			return held, nil
		}
		return freeport.Addr()
	}, held, calls
}

// TestStartAgainOnAnotherPort: a server that finds its port taken (held
// here by the test) is started again on another port, and runs there.
func TestStartAgainOnAnotherPort(t *testing.T) {
	free, held, calls := holdFirst(t)
	var tried []netip.AddrPort
	addr, err := freeport.Start(freeport.Options{Free: free}, func(ports []netip.AddrPort) (string, error) {
		tried = append(tried, ports[0])
		return serve(ports[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tried) != 2 || tried[0] != held || addr != tried[1].String() || *calls != 2 {
		t.Errorf("started on %q after %v (%d ports asked for); want the held %s, then another", addr, tried, *calls, held)
	}
}

// TestStartGivesUp: a port taken at every attempt ends after
// Options.Attempts starts, with the last start's error.
func TestStartGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).AddrPort()
	starts := 0
	_, err = freeport.Start(freeport.Options{Attempts: 3, Free: func() (netip.AddrPort, error) { return held, nil }},
		func(ports []netip.AddrPort) (string, error) {
			starts++
			return serve(ports[0])
		})
	if starts != 3 || !errors.Is(err, freeport.ErrTaken) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("%d starts, error %v; want 3 and the last start's bind error", starts, err)
	}
}

// TestStartOtherFailure: a start that fails for another reason is not
// tried again, and Options.Taken decides what a taken port looks like.
func TestStartOtherFailure(t *testing.T) {
	errBad, errMine := errors.New("bad configuration"), errors.New("mine")
	for _, tc := range []struct {
		name   string
		opts   freeport.Options
		err    error
		starts int
	}{
		{"other error", freeport.Options{}, errBad, 1},
		{"caller's own sentinel", freeport.Options{Attempts: 2, Taken: func(err error) bool { return errors.Is(err, errMine) }}, errMine, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			starts := 0
			_, err := freeport.Start(tc.opts, func([]netip.AddrPort) (int, error) {
				starts++
				return 0, tc.err
			})
			if starts != tc.starts || !errors.Is(err, tc.err) {
				t.Errorf("%d starts, error %v; want %d and %v", starts, err, tc.starts, tc.err)
			}
		})
	}
}

// TestStartPortsDiffer: the ports of one attempt differ, even when the
// kernel gives a port closed a moment ago again.
func TestStartPortsDiffer(t *testing.T) {
	first, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	again := func() (netip.AddrPort, error) {
		calls++
		if calls <= 2 {
			return first, nil
		}
		return freeport.Addr()
	}
	ports, err := freeport.Start(freeport.Options{Ports: 3, Free: again}, func(ports []netip.AddrPort) ([]netip.AddrPort, error) {
		return ports, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Errorf("ports %v: want 3 different", ports)
	}
}

// TestTaken: the logs of Go servers and of Redis say a port was taken.
func TestTaken(t *testing.T) {
	exited := errors.New("exited")
	for log, want := range map[string]bool{
		"listen tcp 127.0.0.1:9090: bind: address already in use":                                              true,
		"# Warning: Could not create server TCP listening socket 127.0.0.1:6379: bind: Address already in use": true,
		"invalid flag --http-addr": false,
	} {
		err := freeport.Taken(exited, log)
		if errors.Is(err, freeport.ErrTaken) != want || !errors.Is(err, exited) {
			t.Errorf("Taken(%q) = %v", log, err)
		}
	}
	if freeport.Taken(nil, "address already in use") != nil {
		t.Error("Taken(nil) is an error")
	}
}
