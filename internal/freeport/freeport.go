// Package freeport gives tests loopback ports asked of the kernel, and
// starts a server that binds them in another process (riskgate,
// redis-server, Prometheus, Kratos) again on other ports when one was
// taken meanwhile.
//
// A port found free (listen on 127.0.0.1:0, note the port, close) is free
// only until someone else binds it: between the close and the server's
// bind, another process's outgoing connection can be given it, its local
// port being drawn from the same range, or another test package's server
// can take it. The server then exits with "address already in use" and a
// CI run fails for nothing. Start runs the start again on fresh ports when
// that happens, a bounded number of times.
//
// A server started in the test's own process needs none of this: hand it
// a listener on 127.0.0.1:0 and the port is never free in between.
package freeport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// ErrTaken marks a start that failed because a port it was given was
// taken before the server bound it. Start tries again after an error
// wrapping it (see Options.Taken).
var ErrTaken = errors.New("freeport: a port was taken before the server bound it")

// inUse is the text of EADDRINUSE in servers' logs: "bind: address
// already in use" from Go servers, "Address already in use" from Redis.
const inUse = "address already in use"

// Taken returns err wrapped with ErrTaken when log, a server's output,
// says that it could not bind an address in use; otherwise err.
func Taken(err error, log string) error {
	if err == nil || !strings.Contains(strings.ToLower(log), inUse) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTaken, err)
}

// Addr asks the kernel for a free 127.0.0.1 port. It is free now, not when
// a server binds it: use Start.
func Addr() (netip.AddrPort, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("freeport: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort(), nil
}

// Options says how Start asks for ports and recognises a taken one.
type Options struct {
	// Ports is how many ports each attempt is given, all different
	// (default 1).
	Ports int
	// Attempts bounds the starts (default 5).
	Attempts int
	// Taken reports whether a start failed because a port was taken
	// (default: the error wraps ErrTaken, as Taken makes it).
	Taken func(error) bool
	// Free asks for one port (default Addr): a test of the caller can
	// hand out one it holds.
	Free func() (netip.AddrPort, error)
}

// Start calls start with opts.Ports fresh loopback ports and, while it
// fails because a port was taken, again with fresh ones, at most
// opts.Attempts times. It returns what the last call returned; when every
// attempt found a port taken, the error says so and still wraps the last
// one. start must release what a failed attempt started.
func Start[T any](opts Options, start func(ports []netip.AddrPort) (T, error)) (T, error) {
	if opts.Ports <= 0 {
		opts.Ports = 1
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Taken == nil {
		opts.Taken = func(err error) bool { return errors.Is(err, ErrTaken) }
	}
	if opts.Free == nil {
		opts.Free = Addr
	}
	var zero T
	for attempt := 1; ; attempt++ {
		ports, err := distinct(opts.Ports, opts.Free)
		if err != nil {
			return zero, err
		}
		v, err := start(ports)
		if err == nil || !opts.Taken(err) {
			return v, err
		}
		if attempt == opts.Attempts {
			return v, fmt.Errorf("freeport: %d starts, each on a port taken meanwhile; the last: %w", attempt, err)
		}
	}
}

// distinct asks free for n different ports: one closed before the next is
// asked for may be given again.
func distinct(n int, free func() (netip.AddrPort, error)) ([]netip.AddrPort, error) {
	var ports []netip.AddrPort
	for asked := 0; len(ports) < n; asked++ {
		if asked == 10*n {
			return nil, fmt.Errorf("freeport: %d ports asked for, %d different", asked, len(ports))
		}
		p, err := free()
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ports, func(q netip.AddrPort) bool { return q.Port() == p.Port() }) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
