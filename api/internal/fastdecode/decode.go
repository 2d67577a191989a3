// Package fastdecode decodes riskgate.v1 messages with their generated
// decoders (vtprotobuf's UnmarshalVT, api/gen's *_vtproto.pb.go), which
// take a fraction of the instructions of protobuf-go's table-driven one,
// where protobuf-go would decode them alike. The generated decoders do not
// check that strings are UTF-8, which protobuf-go requires of every
// occurrence of a string field: the bytes are checked first, by a table
// built once from the message's descriptor (UTF8Checker), which also names
// the field that is not (InvalidUTF8Field).
//
// The gRPC server decodes its requests this way (api/grpcapi), and the Go
// client its answers (api/client): the package depends on protobuf-go and
// grpc-go's mem only, so that the client links nothing of the server.
package fastdecode

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Message is a message with a generated decoder.
type Message interface {
	protoreflect.ProtoMessage
	UnmarshalVT([]byte) error
	Reset()
}

// Decoder decodes messages of type M with their generated decoder.
type Decoder[M Message] struct{ utf8 *UTF8Checker }

// NewDecoder returns the decoder of messages of type M (a pointer to a
// generated message, *pb.Decision).
func NewDecoder[M Message]() Decoder[M] {
	var m M // nil, whose ProtoReflect still gives the descriptor
	return Decoder[M]{utf8: NewUTF8Checker(m.ProtoReflect().Descriptor())}
}

// Decode decodes data into m, a new message (as grpc-go's generated
// stubs and handlers give: the generated decoder merges into what m
// holds), with the generated decoder. It reports
// false, leaving m reset, where the strings are not all UTF-8 or the
// decoder fails; the caller then decodes data again with protobuf-go, so
// that whatever it refuses is refused as before, with the same message,
// and whatever it takes is decoded alike (FuzzDecodeMatchesProto), but
// for the bytes of unknown fields, which protobuf-go keeps rewritten and
// the generated decoder of google.protobuf.Timestamp drops.
func (d Decoder[M]) Decode(data mem.BufferSlice, m M) bool {
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		b = buf.ReadOnlyData()
	}
	if d.utf8.Valid(b) && m.UnmarshalVT(b) == nil { // strings are copied out
		return true
	}
	m.Reset()
	return false
}
