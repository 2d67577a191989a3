package grpcapi

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
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
// (TestCodecMatchesProto). Other messages (health, reflection, error
// details) and every request go through grpc-go's codec.
func Codec() encoding.CodecV2 { return codec{base: encoding.GetCodecV2(proto.Name)} }

type codec struct{ base encoding.CodecV2 }

func (c codec) Name() string { return proto.Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMessage)
	if !ok {
		return c.base.Marshal(v)
	}
	if r, ok := v.(*decisionReply); ok {
		defer r.release() // the bytes are copied out; the box goes back to its pool
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
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

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }
