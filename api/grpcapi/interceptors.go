package grpcapi

import (
	"context"
	"crypto/tls"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/riskgate/riskgate/api/apierr"
	"github.com/riskgate/riskgate/api/auth"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/service"
)

// methods maps every method the server registers to its service
// operation, whose level it needs. A method missing here is refused (fail
// closed), and api/server's TestEveryEndpointHasALevel finds it first.
var methods = map[string]service.Op{
	pb.RiskService_Score_FullMethodName:           service.OpScore,
	pb.RiskService_Report_FullMethodName:          service.OpReport,
	pb.RiskService_Forget_FullMethodName:          service.OpForget,
	pb.RiskService_GetProfile_FullMethodName:      service.OpProfile,
	pb.RulesService_Get_FullMethodName:            service.OpRulesGet,
	pb.RulesService_Validate_FullMethodName:       service.OpRulesValidate,
	pb.RulesService_Put_FullMethodName:            service.OpRulesPut,
	pb.RulesService_Test_FullMethodName:           service.OpRulesTest,
	pb.RulesService_Promote_FullMethodName:        service.OpRulesPromote,
	pb.RulesService_GetTenant_FullMethodName:      service.OpTenantRulesGet,
	pb.RulesService_PutTenant_FullMethodName:      service.OpTenantRulesPut,
	pb.RulesService_ValidateTenant_FullMethodName: service.OpTenantRulesValidate,
	pb.RulesService_PromoteTenant_FullMethodName:  service.OpTenantRulesPromote,
	pb.RulesService_Backtest_FullMethodName:       service.OpBacktest,

	healthpb.Health_Check_FullMethodName:                                   service.OpProbe,
	healthpb.Health_Watch_FullMethodName:                                   service.OpProbe,
	healthpb.Health_List_FullMethodName:                                    service.OpProbe,
	reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName:      service.OpProbe,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: service.OpProbe,
}

// OpOf returns the service operation of a full method name
// ("/riskgate.v1.RiskService/Score").
func OpOf(fullMethod string) (service.Op, bool) {
	op, ok := methods[fullMethod]
	return op, ok
}

// Recorder measures calls; package metrics implements it. A call refused
// on its credentials before its message is read (Tap) is recorded with a
// negative took (metrics.Untimed): counted, not timed.
type Recorder interface {
	GRPC(method, code string, took time.Duration)
}

// untimed is metrics.Untimed, which this package does not import.
const untimed time.Duration = -1

// Interceptors authenticate, measure and recover every call.
type Interceptors struct {
	Auth    *auth.Authenticator
	Metrics Recorder // may be nil
	Log     *slog.Logger

	// AdminOnly refuses, before their message is read, the calls of a
	// level below TenantAdmin (Score, Report, health, reflection): the
	// admin listener's, whose messages may be as large as a ruleset,
	// serves those who may change rules, not whoever may score.
	AdminOnly bool

	// registered are the services and full method names the server
	// serves (Registered); nil until then, when every call is taken for
	// a registered one.
	registered map[string]bool
}

// Unmatched is the method label of the calls of a method the server does
// not serve: grpc-go answered them Unimplemented before any interceptor
// ran, so an identity server calling a method of another version of the
// API (each of its logins failing over) left no trace in /metrics. One
// label for them all: the names are the callers'.
const Unmatched = "unmatched"

// Registered records the services and methods s serves, once they are all
// registered: the calls of any other go to Unknown
// (grpc.UnknownServiceHandler), which the stream interceptor lets through.
func (ic *Interceptors) Registered(s *grpc.Server) {
	reg := map[string]bool{}
	for svc, info := range s.GetServiceInfo() {
		reg[svc] = true
		for _, m := range info.Methods {
			reg["/"+svc+"/"+m.Name] = true
		}
	}
	ic.registered = reg
}

// Unknown answers a call of a method the server does not serve
// (grpc.UnknownServiceHandler) as grpc-go does, Unimplemented, and counts
// it under the method Unmatched. Its message is not read.
func (ic *Interceptors) Unknown(_ any, ss grpc.ServerStream) error {
	start := time.Now()
	method, _ := grpc.MethodFromServerStream(ss)
	svc, name := splitMethod(method)
	err := status.Errorf(codes.Unimplemented, "unknown service %.200s", svc)
	if ic.registered[svc] {
		err = status.Errorf(codes.Unimplemented, "unknown method %.200s for service %s", name, svc)
	}
	if ic.Metrics != nil {
		ic.Metrics.GRPC(Unmatched, codes.Unimplemented.String(), time.Since(start))
	}
	return err
}

// splitMethod splits "/service/method" as grpc-go does.
func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return full, ""
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
	undecoded := takeUndecoded(req) // taken first, so that nothing is left behind
	if err := ic.check(ctx, info.FullMethod, tenantOf(req)); err != nil {
		return nil, err
	}
	if undecoded != nil {
		return nil, undecoded
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
	if ic.registered != nil && !ic.registered[info.FullMethod] {
		return handler(srv, ss) // Unknown's: no level to check, and counted there
	}
	if err := ic.check(ss.Context(), info.FullMethod, ""); err != nil {
		return err
	}
	return handler(srv, ss)
}

// Tap refuses a call before its message is read when its credentials
// cannot pass (grpc.InTapHandle): the message, up to the server's limit
// (4 MiB on the admin listener), was read whole before the interceptor
// refused it, so a client without a token could make the node hold that
// for each stream of each of its connections. On the admin listener
// (AdminOnly) it refuses every call below TenantAdmin. It runs as the call's headers arrive, under the
// connection's lock: the check is a hash and two comparisons. A call on a
// tenant's rules is left to the interceptor, which has the tenant from
// the request; the rest are checked here once, and marked so that the
// interceptor does not hash the token again.
func (ic *Interceptors) Tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	op, ok := methods[info.FullMethodName]
	if !ok {
		return ctx, nil // the interceptor refuses it, and says so in the log
	}
	level := op.Level()
	if ic.AdminOnly && (level == auth.Public || level == auth.Scoring) {
		if ic.Metrics != nil {
			ic.Metrics.GRPC(info.FullMethodName, codes.PermissionDenied.String(), untimed)
		}
		return ctx, status.Errorf(codes.PermissionDenied, "%s is served on the API listener (--grpc-addr), not on the admin listener", info.FullMethodName)
	}
	if level == auth.Public || level == auth.Scoring && ic.Auth.ScoringOpen() || level == auth.TenantAdmin {
		return ctx, nil
	}
	var authz string
	if v := info.Header.Get("authorization"); len(v) > 0 {
		authz = v[0]
	}
	if err := ic.Auth.Check(level, authz, tlsState(ctx)); err != nil {
		e := apierr.Classify(err)
		if ic.Metrics != nil {
			// Counted as the interceptor counts its refusals: the auth
			// refusals' alert reads these. Not timed: the call ends here,
			// and a 0 s for each (a client with an expired token) pulled
			// the scoring calls' 99th percentile down.
			ic.Metrics.GRPC(info.FullMethodName, e.Code.String(), untimed)
		}
		return ctx, status.Error(e.Code, e.Message)
	}
	return context.WithValue(ctx, tapChecked{}, true), nil
}

// tapChecked marks a call whose credentials Tap admitted.
type tapChecked struct{}

// tlsState is the TLS state of the call's connection; nil without TLS.
func tlsState(ctx context.Context) *tls.ConnectionState {
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			return &ti.State
		}
	}
	return nil
}

// tenantOf is the tenant a request is about, for a tenant admin's token
// (auth.CheckTenant); "" admits admins only.
func tenantOf(req any) string {
	if r, ok := req.(interface{ GetTenant() string }); ok {
		return r.GetTenant()
	}
	return ""
}

func (ic *Interceptors) check(ctx context.Context, method, tenant string) error {
	op, ok := methods[method]
	if !ok {
		ic.Log.Error("grpc method without a service operation refused", "method", method)
		return status.Error(codes.PermissionDenied, "no authorisation level declared for "+method)
	}
	level := op.Level()
	if level == auth.Public || level == auth.Scoring && ic.Auth.ScoringOpen() {
		return nil // the hot path: no metadata or peer lookups
	}
	if checked, _ := ctx.Value(tapChecked{}).(bool); checked && level != auth.TenantAdmin {
		return nil // Tap admitted it, before its message was read
	}
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	if err := ic.Auth.CheckTenant(level, tenant, authz, tlsState(ctx)); err != nil {
		e := apierr.Classify(err)
		return status.Error(e.Code, e.Message)
	}
	return nil
}
