package stream_test

import (
	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/node"
)

// The runner plugs into a node as it is: node.WithRunner(runner).
var _ node.Runner = (*stream.Runner)(nil)

// The alert dispatcher plugs in as an observer the node flushes on
// shutdown: node.WithObserver(dispatcher).
var _ node.Closer = (*alert.Dispatcher)(nil)
