package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/loglimit"
)

// connLimitLogEvery is how often, at most, a listener logs that it
// refuses connections, with how many it refused since.
const connLimitLogEvery = 10 * time.Second

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
type limitListener struct {
	net.Listener
	name string // http, grpc or grpc-admin
	max  int64
	log  *slog.Logger
	// userTimeout is the TCP_USER_TIMEOUT of a connection accepted
	// (setUserTimeout); 0: none set.
	userTimeout time.Duration

	open    atomic.Int64
	refused atomic.Uint64
	limit   *loglimit.Limiter
}

// grpcUserTimeout is the TCP_USER_TIMEOUT grpc-go sets on the
// connections it accepts, its keepalive Timeout's default.
const grpcUserTimeout = 20 * time.Second

// limitConns wraps ln in a limitListener; max <= 0 is no limit.
// userTimeout is the gRPC listeners' grpcUserTimeout.
func limitConns(ln net.Listener, name string, max int, userTimeout time.Duration, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, name: name, max: int64(max), userTimeout: userTimeout, log: log, limit: loglimit.New(connLimitLogEvery)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			setUserTimeout(c, l.userTimeout)
			return &limitConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refused.Add(1) // before the client can see it closed
		c.Close()
		if suppressed, ok := l.limit.Allow("", time.Now()); ok {
			l.log.Warn("connection refused: the listener holds --max-connections already",
				"listener", l.name, "max_connections", l.max, "remote", c.RemoteAddr().String(), "refused_since_last_line", suppressed)
		}
	}
}

// limitConn gives its place back once, at its first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
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
			ch <- prometheus.MustNewConstMetric(connsOpen, prometheus.GaugeValue, float64(l.open.Load()), l.name)
			ch <- prometheus.MustNewConstMetric(connsRefused, prometheus.CounterValue, float64(l.refused.Load()), l.name)
		}
	}
}
