package grpcapi

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// RegisterRisk registers RiskService on s as pb.RegisterRiskServiceServer
// does, but for Score, whose answer is built in a pooled box (a Decision
// with its signals is a dozen messages, ~2 KB, that the garbage collector
// would otherwise reclaim after every call) and handed back to the pool by
// the server's codec once it is on the wire, and for messages too large
// for the server (deferTooLarge). Serve it with Codec.
func RegisterRisk(s grpc.ServiceRegistrar, r *Risk) {
	desc := pb.RiskService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		m := &desc.Methods[i]
		if m.MethodName == "Score" {
			m.Handler = scoreHandler
		} else {
			m.Handler = deferTooLarge(m.Handler)
		}
	}
	s.RegisterService(&desc, r)
}

// RegisterRules registers RulesService on s as
// pb.RegisterRulesServiceServer does, but for messages too large for the
// server (deferTooLarge).
func RegisterRules(s grpc.ServiceRegistrar, r *Rules) {
	desc := pb.RulesService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		desc.Methods[i].Handler = deferTooLarge(desc.Methods[i].Handler)
	}
	s.RegisterService(&desc, r)
}

// deferTooLarge hands a message the server would not read for its size
// to the unary interceptor, which answers and counts it as it does the
// codec's refusals (undecoded): grpc-go refuses it
// (ResourceExhausted, "received message larger than max (N vs. M)")
// before any interceptor runs, so riskgate_grpc_requests_total never saw
// it. grpc-go has answered the call already, in its words, which name
// the message's size and the limit. A closure a call: not for Score
// (scoreHandler does the same inline).
func deferTooLarge(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		if interceptor == nil {
			return h(srv, ctx, dec, nil)
		}
		return h(srv, ctx, func(v any) error { return keepTooLarge(v, dec(v)) }, interceptor)
	}
}

// keepTooLarge keeps err for the interceptor when it is the server's
// refusal of a message too large, and returns nil; other errors it
// returns.
func keepTooLarge(v any, err error) error {
	if err == nil || status.Code(err) != codes.ResourceExhausted {
		return err
	}
	undecoded.Store(v, status.Convert(err))
	return nil
}

// scoreHandler is the generated _RiskService_Score_Handler answering with
// a pooled decisionReply.
func scoreHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(pb.ScoreRequest)
	if err := dec(in); err != nil {
		if interceptor == nil || keepTooLarge(in, err) != nil {
			return nil, err
		}
	}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(*Risk).score(ctx, req.(*pb.ScoreRequest))
	}
	if interceptor == nil {
		return handler(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: pb.RiskService_Score_FullMethodName}, handler)
}

// decisionReply is a Score's answer on its way to the wire. The codec
// marshals it (the bytes of its Decision) and then releases it.
type decisionReply struct {
	box decisionBox
	msg *pb.Decision
}

var replies = sync.Pool{New: func() any { return new(decisionReply) }}

func (r *decisionReply) SizeVT() int { return r.msg.SizeVT() }
func (r *decisionReply) MarshalToSizedBufferVT(b []byte) (int, error) {
	return r.msg.MarshalToSizedBufferVT(b)
}

// release empties the reply, so that the pool holds no attempt's strings,
// and puts it back.
func (r *decisionReply) release() {
	r.box = decisionBox{}
	r.msg = nil
	replies.Put(r)
}
