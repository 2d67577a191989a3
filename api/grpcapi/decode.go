package grpcapi

import (
	"google.golang.org/grpc/mem"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/internal/fastdecode"
)

// decodeFast decodes the requests every login sends (Score, Report) with
// their generated decoder (vtprotobuf's UnmarshalVT), which takes a
// fraction of the instructions of the table-driven one grpc-go's codec
// runs, once their strings are checked UTF-8 (fastdecode.Decoder). It
// reports false, leaving v reset, where either fails; the table-driven
// decoder then decodes the request again, so that every request it
// refuses is refused as before, with the same message, and every one it
// takes is decoded alike (FuzzDecodeFastMatchesProto), but for the bytes
// of unknown fields, which nothing reads.
func decodeFast(data mem.BufferSlice, v any) bool {
	switch m := v.(type) {
	case *pb.ScoreRequest:
		return scoreRequests.Decode(data, m)
	case *pb.ReportRequest:
		return reportRequests.Decode(data, m)
	}
	return false
}

var (
	scoreRequests  = fastdecode.NewDecoder[*pb.ScoreRequest]()
	reportRequests = fastdecode.NewDecoder[*pb.ReportRequest]()
)
