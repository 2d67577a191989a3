package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

const codeNotFound = "NOT_FOUND"

// Keepalive: a connection without a read for keepaliveTime is pinged, and
// closed when the ping is not answered within keepaliveTimeout. gRPC pings
// no more often than every 10 seconds.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 2 * time.Second
)

type grpcTransport struct {
	conn  *grpc.ClientConn
	risk  pb.RiskServiceClient
	token string
	// probe, in plain text, finds out whether a server that closed the
	// connection at once speaks TLS (nil with Options.TLS).
	probe *tlsProbe
}

func newGRPCTransport(o Options) (*grpcTransport, error) {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// Answers are decoded by their generated decoders (codec).
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newCodec())),
		// gRPC waits up to two minutes between reconnection attempts to a
		// server that went away; riskgate coming back should be noticed
		// within a second or two.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second,
		}}),
		// gRPC's own default, pick_first, sends every call to the first
		// replica a name resolves to, and keeps sending them there while it
		// hangs: a name over several replicas would fail over as a whole
		// for one stuck node. round_robin spreads calls over every replica
		// that is connected. DialOptions may choose another policy.
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		// A replica that froze (a stopped process, a full disk, a host
		// gone without a reset) keeps its connection open, and round robin
		// keeps giving it its share of the calls, each failing over at its
		// deadline. A ping unanswered for keepaliveTimeout closes the
		// connection, which takes the replica out of the rotation until it
		// answers again. riskgate accepts pings this often
		// (api/server's keepalive policy).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true,
		}),
	}, o.DialOptions...)
	conn, err := grpc.NewClient(o.Target, dial...)
	if err != nil {
		return nil, fmt.Errorf("client: Options.Target %q: %w", o.Target, err)
	}
	conn.Connect() // dial now, not on the first login
	t := &grpcTransport{conn: conn, risk: pb.NewRiskServiceClient(conn), token: o.Token}
	if o.TLS == nil {
		t.probe = newTLSProbe(o.Target)
	}
	return t, nil
}

func (t *grpcTransport) withToken(ctx context.Context) context.Context {
	if t.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.token)
}

func (t *grpcTransport) score(ctx context.Context, req *pb.ScoreRequest) (*pb.Decision, error) {
	d, err := t.risk.Score(t.withToken(ctx), req)
	if err != nil {
		e := grpcError(err)
		t.hintTLS(ctx, e)
		// Name the field as Attempt and the JSON API do.
		e.Field = strings.TrimPrefix(e.Field, "attempt.")
		return nil, e
	}
	return d, nil
}

func (t *grpcTransport) report(ctx context.Context, req *pb.ReportRequest) error {
	if _, err := t.risk.Report(t.withToken(ctx), req); err != nil {
		e := grpcError(err)
		t.hintTLS(ctx, e)
		return e
	}
	return nil
}

func (t *grpcTransport) close() error { return t.conn.Close() }

// wake makes a connection in backoff try again now, before the breaker's
// probe: the probe should find riskgate if it is back.
func (t *grpcTransport) wake() { t.conn.ResetConnectBackoff() }

// grpcError classifies a gRPC status.
func grpcError(err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Cause: CauseTimeout, Msg: "no answer within the call's timeout", Err: err}
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Cause: CauseServerError, Msg: err.Error(), Err: err}
	}
	e := &Error{Code: grpcCodeName(st.Code()), Msg: st.Message(), Err: err}
	switch st.Code() {
	case codes.DeadlineExceeded:
		e.Cause = CauseTimeout
	case codes.Unavailable:
		// Connection refused or reset, no address resolved, a server
		// draining, or riskgate's store down: nothing was decided.
		e.Cause, e.retry = CauseUnavailable, true
		// The connection could not be made: nothing was sent.
		e.notSent = strings.Contains(st.Message(), "Error while dialing") || strings.Contains(st.Message(), "produced zero addresses")
	case codes.ResourceExhausted:
		// Overloaded, or a request too large: riskgate's "request larger
		// than 65536 bytes", grpc-go's "received message larger than max"
		// (either end). A request too large is the caller's to fix, and
		// refused again however often it is sent: counted against
		// riskgate's health, five of them opened the circuit for every
		// login.
		e.Cause = CauseOverloaded
		if strings.Contains(st.Message(), "larger than") {
			e.Cause = CauseRejected
		}
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.OutOfRange,
		codes.Unauthenticated, codes.PermissionDenied, codes.AlreadyExists, codes.Aborted:
		e.Cause = CauseRejected
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
				e.Field = br.GetFieldViolations()[0].GetField()
			}
		}
	case codes.Canceled:
		e.Cause = CauseCanceled
	default:
		e.Cause = CauseServerError
	}
	return e
}

// grpcCodeName is the code as the gRPC specification spells it
// ("INVALID_ARGUMENT", "CANCELLED"), as the HTTP transport's Code spells
// riskgate's JSON error codes.
func grpcCodeName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED" // grpc-go's String is "Canceled"
	}
	name := c.String() // "InvalidArgument", or "Code(17)"
	if strings.HasPrefix(name, "Code(") {
		return name
	}
	var b strings.Builder
	prev := rune(0)
	for _, r := range name {
		if unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	return b.String()
}
