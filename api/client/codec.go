package client

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode"
)

// codec is the gRPC connection's codec: grpc-go's protobuf codec, but
// riskgate's answers (the Decision every Score returns, with its signals
// when asked for) are decoded by their generated decoders, as riskgate's
// server decodes its requests (fastdecode), once their strings are
// checked UTF-8. An answer the generated decoder does not take is decoded
// again by grpc-go's codec, which refuses it, if it does, with the error
// it always gave. Requests are encoded by grpc-go's codec.
type codec struct{ base encoding.CodecV2 }

func newCodec() codec { return codec{base: encoding.GetCodecV2(proto.Name)} }

// Name is grpc-go's codec's: the requests' content-type is
// application/grpc+proto.
func (c codec) Name() string { return c.base.Name() }

func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if decodeAnswer(data, v) {
		return nil
	}
	return c.base.Unmarshal(data, v)
}

// decodeAnswer decodes riskgate's answers with their generated decoder,
// reporting false, v reset, where it does not.
func decodeAnswer(data mem.BufferSlice, v any) bool {
	switch m := v.(type) {
	case *pb.Decision:
		return decisions.Decode(data, m)
	case *pb.ReportResponse:
		return reportResponses.Decode(data, m)
	}
	return false
}

var (
	decisions       = fastdecode.NewDecoder[*pb.Decision]()
	reportResponses = fastdecode.NewDecoder[*pb.ReportResponse]()
)
