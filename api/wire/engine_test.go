package wire_test

import (
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// The tests of package wire build their engines as the binary does.
func init() {
	wire.NewTestEngine = enginetest.New
	if wire.TestSecret != enginetest.Secret {
		panic("wire: TestSecret is not enginetest.Secret")
	}
}
