package wire

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/riskgate/riskgate/api/internal/fastdecode"
)

// InvalidUTF8Field names the string field of a message of type md whose
// bytes in data are not UTF-8 (attempt.username, attributes.k), or
// returns "" when it finds none. proto.Unmarshal refuses such a message
// without saying which field ("string field contains invalid UTF-8"); this
// walks the wire format again, with the table the gRPC server checks its
// requests with (fastdecode.UTF8Checker), to say it. Map entries are
// named by their key, as in JSON.
func InvalidUTF8Field(data []byte, md protoreflect.MessageDescriptor) string {
	return fastdecode.InvalidUTF8Field(data, md)
}
