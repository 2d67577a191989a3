package grpcapi

import (
	"google.golang.org/grpc/mem"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
)

// decodeFast decodes the requests every login sends (Score, Report) with
// their generated decoder (vtprotobuf's UnmarshalVT), which takes a
// fraction of the instructions of the table-driven one grpc-go's codec
// runs. The generated decoder does not check that strings are UTF-8, which
// protobuf-go requires of every occurrence of a string field: the bytes
// are checked first (wire.UTF8Checker). It reports false, leaving v reset,
// where either fails; the table-driven decoder then decodes the request
// again, so that every request it refuses is refused as before, with the
// same message, and every one it takes is decoded alike
// (FuzzDecodeFastMatchesProto), but for the bytes of unknown fields,
// which nothing reads.
func decodeFast(data mem.BufferSlice, v any) bool {
	var unmarshal func([]byte) error
	var utf8 *wire.UTF8Checker
	switch m := v.(type) {
	case *pb.ScoreRequest:
		unmarshal, utf8 = m.UnmarshalVT, scoreRequestUTF8
	case *pb.ReportRequest:
		unmarshal, utf8 = m.UnmarshalVT, reportRequestUTF8
	default:
		return false
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		b = buf.ReadOnlyData()
	}
	if utf8.Valid(b) && unmarshal(b) == nil { // strings are copied out
		return true
	}
	v.(interface{ Reset() }).Reset()
	return false
}

var (
	scoreRequestUTF8  = wire.NewUTF8Checker((&pb.ScoreRequest{}).ProtoReflect().Descriptor())
	reportRequestUTF8 = wire.NewUTF8Checker((&pb.ReportRequest{}).ProtoReflect().Descriptor())
)
