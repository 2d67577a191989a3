package grpcapi

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
)

// vtMessage is a message with generated marshalling (api/gen's
// *_vtproto.pb.go).
type vtMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT(b []byte) (int, error)
}

// Codec is the gRPC server's codec: protobuf, as grpc-go's own, but
// riskgate's messages (above all the Decision with its signals, which every
// Score returns) are marshalled by code generated per message (vtprotobuf)
// instead of the table-driven marshaller, which walks the ~100 fields of the
// signals through their descriptors on each call. The bytes are the same
// (TestCodecMatchesProto). Score's and Report's requests are decoded by
// generated code too (decodeFast). Other messages (health, reflection,
// error details) and the other requests go through grpc-go's codec.
func Codec() encoding.CodecV2 { return codec{base: encoding.GetCodecV2(proto.Name)} }

type codec struct{ base encoding.CodecV2 }

func (c codec) Name() string { return proto.Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMessage)
	if !ok {
		return c.base.Marshal(v)
	}
	// A Score's answer (about 600 bytes with its signals, on every call)
	// goes in a pooled buffer even below grpc-go's pooling threshold.
	r, reply := v.(*decisionReply)
	if reply {
		defer r.release() // the bytes are copied out; the box goes back to its pool
	}
	size := m.SizeVT()
	if size == 0 || mem.IsBelowBufferPoolingThreshold(size) && !reply {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVT(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVT((*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes a request. A riskgate request that is too large or
// malformed (bad wire format, invalid UTF-8) is not refused here: grpc-go
// would answer Internal, before any interceptor could count the call.
// The failure is kept for the request instead, and the unary interceptor,
// which runs next with the same request, answers it: InvalidArgument, or
// ResourceExhausted over the HTTP API's 64 KiB limit, counted in
// riskgate_grpc_requests_total like any other answer.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	limit, ours := requestLimit(v)
	if !ours {
		return c.base.Unmarshal(data, v)
	}
	if n := data.Len(); limit > 0 && n > limit {
		undecoded.Store(v, status.New(codes.ResourceExhausted, fmt.Sprintf("request larger than %d bytes", limit)))
		return nil
	}
	if decodeFast(data, v) {
		return nil
	}
	if err := c.base.Unmarshal(data, v); err != nil {
		msg := "request: " + err.Error()
		if m, ok := v.(protoreflect.ProtoMessage); ok {
			if f := wire.InvalidUTF8Field(data.Materialize(), m.ProtoReflect().Descriptor()); f != "" {
				msg = f + ": invalid UTF-8"
			}
		}
		undecoded.Store(v, status.New(codes.InvalidArgument, msg))
	}
	return nil
}

// undecoded holds the requests Unmarshal could not decode, until the
// interceptor takes them.
var undecoded sync.Map // request -> *status.Status

// takeUndecoded returns the failure of decoding req, if there was one.
func takeUndecoded(req any) error {
	if req == nil {
		return nil
	}
	if st, ok := undecoded.LoadAndDelete(req); ok {
		return st.(*status.Status).Err()
	}
	return nil
}

// requestLimit says whether v is a request of riskgate's own services, and
// the most bytes it may have (0: the server's limit). An attempt or an
// outcome is bounded as the HTTP API bounds its body.
func requestLimit(v any) (int, bool) {
	switch v.(type) {
	case *pb.ScoreRequest, *pb.ReportRequest, *pb.ForgetRequest, *pb.GetProfileRequest:
		return wire.MaxMessage, true
	}
	m, ok := v.(protoreflect.ProtoMessage)
	if ok && m.ProtoReflect().Descriptor().ParentFile().Package() == "riskgate.v1" {
		return 0, true
	}
	return 0, false
}
