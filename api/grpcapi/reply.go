package grpcapi

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// RegisterRisk registers RiskService on s as pb.RegisterRiskServiceServer
// does, but for Score, whose answer is built in a pooled box (a Decision
// with its signals is a dozen messages, ~2 KB, that the garbage collector
// would otherwise reclaim after every call) and handed back to the pool by
// the server's codec once it is on the wire. Serve it with Codec.
func RegisterRisk(s grpc.ServiceRegistrar, r *Risk) {
	desc := pb.RiskService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == "Score" {
			desc.Methods[i].Handler = scoreHandler
		}
	}
	s.RegisterService(&desc, r)
}

// scoreHandler is the generated _RiskService_Score_Handler answering with
// a pooled decisionReply.
func scoreHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(pb.ScoreRequest)
	if err := dec(in); err != nil {
		return nil, err
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
