package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/loglimit"
)

// connLimitLogEvery is how often, at most, a listener logs that it
// refuses connections, with how many it refused since.
const connLimitLogEvery = 10 * time.Second

// connSweepEvery is how often, at most, a full listener looks again for
// connections its server has closed since it last looked. Under a flood
// every connection past the limit would otherwise walk them all; a place
// given back is seen within this long.
const connSweepEvery = time.Millisecond

// limitListener holds at most max connections open at once. Past that it
// accepts a new connection and closes it at once, rather than leaving it
// in the kernel's queue as golang.org/x/net/netutil.LimitListener does by
// not accepting: under a flood, an identity server's new connection then
// fails in a round trip and its client fails over to another node (or to
// its failover answer) within its deadline, where a queued one waited out
// its connect timeout, far past a login's; and the connections already
// open, those of the identity servers that were there first, are served
// as before. Counted (riskgate_connections_refused_total) and logged at
// most once per connLimitLogEvery a listener, whatever the flood's rate.
//
// It hands its server the *net.TCPConn it accepted, unwrapped, and learns
// of a connection's close by asking the connection (sweep), not by
// wrapping its Close: a wrapper hides the type both servers look for.
// grpc-go reads a bare *net.TCPConn through its pooled, non-blocking
// reader and sets its TCP_USER_TIMEOUT; handed anything else it keeps a
// 32 KiB bufio.Reader for the connection's life (32 MiB at 1,024 idle
// connections) and sets no timeout. net/http uses CloseWrite and sendfile.
type limitListener struct {
	net.Listener
	name string // http, grpc or grpc-admin
	max  int
	log  *slog.Logger

	mu sync.Mutex
	// conns are the connections handed out and not yet seen closed.
	conns   []syscall.RawConn
	sweptAt time.Time

	refused atomic.Uint64
	limit   *loglimit.Limiter
}

// limitConns wraps ln in a limitListener; max <= 0 is no limit.
func limitConns(ln net.Listener, name string, max int, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, name: name, max: max, log: log, limit: loglimit.New(connLimitLogEvery)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			// Not a socket (no listener net.Listen returns): nothing to
			// ask of it later, so it cannot be counted.
			return c, nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			c.Close()
			continue
		}
		if l.admit(raw, time.Now()) {
			return c, nil
		}
		l.refused.Add(1) // before the client can see it closed
		c.Close()
		if suppressed, ok := l.limit.Allow("", time.Now()); ok {
			l.log.Warn("connection refused: the listener holds --max-connections already",
				"listener", l.name, "max_connections", l.max, "remote", c.RemoteAddr().String(), "refused_since_last_line", suppressed)
		}
	}
}

// admit counts raw in if the listener holds fewer than max connections,
// sweeping out those closed since the last sweep when it seems full.
func (l *limitListener) admit(raw syscall.RawConn, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max && now.Sub(l.sweptAt) >= connSweepEvery {
		l.sweepLocked(now)
	}
	if len(l.conns) >= l.max {
		return false
	}
	l.conns = append(l.conns, raw)
	return true
}

// sweepLocked drops the connections their server has closed: Control
// fails on a closed one, without a system call, and holds nothing.
func (l *limitListener) sweepLocked(now time.Time) {
	open := l.conns[:0]
	for _, raw := range l.conns {
		if raw.Control(func(uintptr) {}) == nil {
			open = append(open, raw)
		}
	}
	clear(l.conns[len(open):]) // let the closed ones' descriptors go
	l.conns = open
	l.sweptAt = now
}

// open is how many connections the listener holds open now.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(time.Now())
	return len(l.conns)
}

// ConnectionCollector exports the API listeners' connections: how many
// are open, and how many were refused past --max-connections.
func (s *Server) ConnectionCollector() prometheus.Collector { return connCollector{s} }

type connCollector struct{ s *Server }

var (
	connsOpen = prometheus.NewDesc("riskgate_connections_open",
		"Connections the API listener holds open, by listener (http, grpc, grpc-admin), counted only where --max-connections limits them.", []string{"listener"}, nil)
	connsRefused = prometheus.NewDesc("riskgate_connections_refused_total",
		"Connections the API listener closed as soon as it accepted them because it held --max-connections already, by listener (http, grpc, grpc-admin).", []string{"listener"}, nil)
)

func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsOpen
	ch <- connsRefused
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ln := range []net.Listener{c.s.httpLn, c.s.grpcLn, c.s.grpcAdminLn} {
		if l, ok := ln.(*limitListener); ok {
			ch <- prometheus.MustNewConstMetric(connsOpen, prometheus.GaugeValue, float64(l.open()), l.name)
			ch <- prometheus.MustNewConstMetric(connsRefused, prometheus.CounterValue, float64(l.refused.Load()), l.name)
		}
	}
}
