package grpcapi

import (
	"context"
	"crypto/tls"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/riskgate/riskgate/api/apierr"
	"github.com/riskgate/riskgate/api/auth"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// Levels maps each method to what it needs. Methods not listed (health,
// reflection) are public; the services' own methods must all be listed,
// which a test checks.
var Levels = map[string]auth.Level{
	pb.RiskService_Score_FullMethodName:      auth.Scoring,
	pb.RiskService_Report_FullMethodName:     auth.Scoring,
	pb.RiskService_Forget_FullMethodName:     auth.Admin,
	pb.RiskService_GetProfile_FullMethodName: auth.Admin,
	pb.RulesService_Get_FullMethodName:       auth.Admin,
	pb.RulesService_Validate_FullMethodName:  auth.Admin,
	pb.RulesService_Put_FullMethodName:       auth.Admin,
	pb.RulesService_Test_FullMethodName:      auth.Admin,
}

// Recorder measures calls; package metrics implements it.
type Recorder interface {
	GRPC(method, code string, took time.Duration)
}

// Interceptors authenticate, measure and recover every call.
type Interceptors struct {
	Auth    *auth.Authenticator
	Metrics Recorder // may be nil
	Log     *slog.Logger
}

// Unary is the unary server interceptor.
func (ic *Interceptors) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			ic.Log.Error("panic in grpc handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		if ic.Metrics != nil {
			ic.Metrics.GRPC(info.FullMethod, status.Code(err).String(), time.Since(start))
		}
	}()
	if err := ic.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// Stream is the stream server interceptor (health watches, reflection).
func (ic *Interceptors) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ic.Log.Error("panic in grpc stream handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	if err := ic.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

func (ic *Interceptors) check(ctx context.Context, method string) error {
	level, ok := Levels[method]
	if !ok {
		level = auth.Public
	}
	if level == auth.Public || level == auth.Scoring && ic.Auth.ScoringOpen() {
		return nil // the hot path: no metadata or peer lookups
	}
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	var cs *tls.ConnectionState
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			cs = &ti.State
		}
	}
	if err := ic.Auth.Check(level, authz, cs); err != nil {
		e := apierr.Classify(err)
		return status.Error(e.Code, e.Message)
	}
	return nil
}
