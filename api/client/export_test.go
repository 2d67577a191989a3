package client

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// IsCodec says whether c is the codec the client's connections use.
func IsCodec(c encoding.CodecV2) bool {
	_, ok := c.(codec)
	return ok
}

// DecodeAnswer decodes data into v as the client's connections do.
func DecodeAnswer(data []byte, v any) error {
	return testCodec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, v)
}

var testCodec = newCodec()

// DecodesFast says whether data decodes into v with the generated decoder.
func DecodesFast(data []byte, v any) bool {
	return decodeAnswer(mem.BufferSlice{mem.SliceBuffer(data)}, v)
}
