package node_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
)

// TestKafkaCheckBeforeTheFirstExchange: a node started with brokers that
// answer never logs that its last exchange with them failed. Its first
// readiness check, at start, comes before the stream's first exchange,
// and said "kafka: the last exchange with the brokers failed" at every
// start; it says the node is not connected yet.
func TestKafkaCheckBeforeTheFirstExchange(t *testing.T) {
	brokers := streamBroker(t)
	cfg := node.Config{
		HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"},
		Kafka: kstream.Options{
			Brokers: brokers, AttemptsTopic: sAttempts, DecisionsTopic: sDecisions, Group: "health",
			SessionTimeout: time.Second, ShutdownTimeout: 10 * time.Second,
		},
	}
	logs := &syncbuf.Buffer{}
	n, err := node.New(context.Background(), cfg, node.WithSecret(streamSecret), node.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addrs.HTTP + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `"kafka":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka never ready: %s\n%s", body, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "the last exchange with the brokers failed") {
		t.Errorf("a node whose brokers answer logged a failed exchange:\n%s", logs.String())
	}
}
