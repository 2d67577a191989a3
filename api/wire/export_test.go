package wire

import (
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// NewTestEngine is internal/enginetest.New, which the tests of this
// package cannot import (it assembles engines with package node, which
// imports this one): the external test package sets it (engine_test.go).
var NewTestEngine func(testing.TB, engine.Options) *engine.Engine

// TestSecret is enginetest.Secret.
const TestSecret = "riskgate-test-secret-0123456789"
