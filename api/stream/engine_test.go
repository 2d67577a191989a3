package stream_test

import (
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// The tests of package stream build their engines as the binary does.
func init() {
	stream.NewTestEngine = enginetest.New
	if stream.TestSecret != enginetest.Secret {
		panic("stream: TestSecret is not enginetest.Secret")
	}
}
