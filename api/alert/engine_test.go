package alert_test

import (
	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// The tests of package alert build their engines as the binary does.
func init() {
	alert.NewTestEngine = enginetest.New
	if alert.TestSecret != enginetest.Secret {
		panic("alert: TestSecret is not enginetest.Secret")
	}
}
