package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/api/service"
	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
)

// undrainedRunner stops at the shutdown as the stream's Runner does when
// its budget ran out before it committed what it fetched: Run returns
// nil, Undrained says how many messages were left.
type undrainedRunner struct{}

func (undrainedRunner) Name() string { return "kafka" }

func (undrainedRunner) Run(ctx context.Context, _ *service.Service) error {
	<-ctx.Done()
	return nil
}

func (undrainedRunner) Undrained() error {
	return fmt.Errorf("%w: 512 left uncommitted, to be delivered again", kstream.ErrUndrained)
}

// TestServeReportsAnUndrainedStream: a stream that could not commit what
// it fetched before the shutdown deadline makes Serve's error (the exit
// status 1), with how many messages are left, not "shutdown complete".
func TestServeReportsAnUndrainedStream(t *testing.T) {
	var logs syncbuf.Buffer
	cfg := node.Config{HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}}
	n, err := node.New(context.Background(), cfg, node.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), node.WithRunner(undrainedRunner{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	err = wait()
	if !errors.Is(err, kstream.ErrUndrained) || !strings.Contains(err.Error(), "kafka: ") || !strings.Contains(err.Error(), "512 left uncommitted") {
		t.Fatalf("Serve = %v, want the stream's undrained shutdown", err)
	}
	if out := logs.String(); strings.Contains(out, "shutdown complete") || !strings.Contains(out, `msg="shutdown incomplete"`) {
		t.Errorf("the log does not say the shutdown was incomplete:\n%s", out)
	}
}
