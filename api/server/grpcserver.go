package server

import (
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/riskgate/riskgate/api/grpcapi"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/wire"
)

// The gRPC servers: the bounds of their connections and messages, and
// their options.

// Bounds of a connection. grpc-go's own are no bound at all (2^32
// concurrent streams, 16 MiB of headers a stream), and a gRPC stream waits
// for its request with its headers held and no deadline but the caller's:
// one connection opening streams that sent headers and nothing else held
// gigabytes. A client past GRPCMaxStreams has its next calls queued by its
// own gRPC library (the limit is announced in the HTTP/2 settings), as
// net/http's HTTP/2 does past its 250.
const (
	GRPCMaxStreams = 256
	MaxHeaderBytes = 64 << 10 // request headers, on every listener
)

// How long a gRPC connection lives. A connection without a call for
// grpcIdleTimeout is closed, as the HTTP listener closes an idle keep-alive
// connection: the clients' pings (api/client: every 10s) are no call, and
// the client reconnects at its next call. No connection outlives
// grpcMaxAge (gRPC adds ±10% of jitter) by more than grpcAgeGrace: the
// client is told to open another (GOAWAY), its calls still running get the
// grace to finish, then the connection is closed. That is what bounds a
// call that sent its headers and never its message: the handler waits for
// the message before any interceptor runs, with no deadline but the
// caller's, and a deadline of the server's own on each call would cost
// every Score a context and a timer; the age costs a reconnection every
// few minutes a connection. The grace outlasts a backtest
// (--capture-backtest-timeout, 2m by default), the one call that may run
// for minutes. Variables, not constants, for the tests.
//
// A connection has grpcHandshakeTimeout for its TLS handshake and HTTP/2
// preface, as an HTTP request has 5 s for its headers (ReadHeaderTimeout).
// grpc-go's default is 120 s, and both GracefulStop and Stop wait for
// every handshake in progress before they drain or close anything: one
// TCP connection that sent nothing held a node's shutdown for two
// minutes, far past --shutdown-timeout and a pod's grace period, and held
// a place of --max-connections as long.
var (
	grpcHandshakeTimeout = 5 * time.Second
	grpcIdleTimeout      = 2 * time.Minute
	grpcMaxAge           = 5 * time.Minute
	grpcAgeGrace         = 150 * time.Second
)

// How large a gRPC message each listener reads. grpc-go reads a call's
// message whole, up to the server's one limit, before any interceptor
// can look at the call, and its limit is the server's, not a method's:
// with one server sized for a ruleset Put (4 MiB), a caller that may
// score (anyone, where scoring is open) made the node read and hold 4 MiB
// a Score, on each of a connection's GRPCMaxStreams streams, before the
// codec refused it as larger than 64 KiB. A limit checked after the read
// bounds nothing; grpc-go checks its own from the message's length
// prefix before it reads the message. So the API listener is a server
// whose limit is a Score's (wire.MaxMessage, as the HTTP API's), where
// admin calls work as long as their messages fit; rules and backtests
// larger than that go to the admin listener (--grpc-admin-addr), a
// second server with the ruleset's limit that serves only admin and
// tenant admin calls (Interceptors.AdminOnly: refused as their headers
// arrive, before their message), or to the HTTP API, which limits each
// route's body as it reads it, after its credentials.
const (
	GRPCMaxMessage      = wire.MaxMessage
	GRPCAdminMaxMessage = httpapi.MaxRulesBody
)

// newGRPC is a gRPC server of riskgate's services, with ic, reading
// messages of up to maxMessage bytes. Register any other service, then
// call ic.Registered.
func (s *Server) newGRPC(ic *grpcapi.Interceptors, maxMessage int, creds grpc.ServerOption) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.Unary),
		grpc.ChainStreamInterceptor(ic.Stream),
		// Credentials checked as a call's headers arrive, before its
		// message (up to MaxRecvMsgSize) is read.
		grpc.InTapHandle(ic.Tap),
		// Calls of a method not served are counted (method
		// "unmatched"), then answered Unimplemented as before.
		grpc.UnknownServiceHandler(ic.Unknown),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxConcurrentStreams(GRPCMaxStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		// A fixed pool of stream workers instead of a goroutine per
		// call: Score's stack is deep enough that a fresh goroutine
		// grows its stack on every call, which cost ~10% of the CPU
		// of a call in profiles (runtime.copystack).
		grpc.NumStreamWorkers(uint32(16 * runtime.GOMAXPROCS(0))),
		// Generated marshalling for riskgate's messages, and Score's
		// answers from a pool (grpcapi.RegisterRisk).
		grpc.ForceServerCodecV2(grpcapi.Codec()),
		// Clients ping an idle connection to find a replica that froze
		// (api/client: every 10s); gRPC's default policy takes a ping
		// more often than every 5 minutes, or one without a call in
		// flight, for abuse, and closes the connection.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ConnectionTimeout(grpcHandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: grpcIdleTimeout, MaxConnectionAge: grpcMaxAge, MaxConnectionAgeGrace: grpcAgeGrace,
		}),
	}
	if creds != nil {
		opts = append(opts, creds)
	}
	srv := grpc.NewServer(opts...)
	grpcapi.RegisterRisk(srv, &grpcapi.Risk{Service: s.deps.Service, Log: s.log})
	grpcapi.RegisterRules(srv, &grpcapi.Rules{Service: s.deps.Service, Log: s.log})
	return srv
}
