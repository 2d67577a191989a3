package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/api/service"
	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
)

// undrainedRunner stops at the shutdown as the stream's Runner does when
// its budget ran out before it committed what it fetched: Run returns
// Undrained's error, which says how many messages were left.
type undrainedRunner struct{}

func (undrainedRunner) Name() string { return "kafka" }

func (r undrainedRunner) Run(ctx context.Context, _ *service.Service) error {
	<-ctx.Done()
	return r.Undrained()
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

// TestShutdownWithHungBrokersKeepsItsBound: brokers that hold every
// produce request (stopped with SIGSTOP, say) when the node shuts down,
// with stream messages in flight and alerts of API decisions queued for
// the Kafka alert sink. Serve returns within the documented bound (twice
// --shutdown-timeout, and a second's grace each) and fails: the stream
// did not commit what it fetched, and the alerts were not delivered.
func TestShutdownWithHungBrokersKeepsItsBound(t *testing.T) {
	const sAlerts = "alerts"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, sAttempts, sDecisions, sAlerts),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()
	var msgs []kafka.Message
	for u := range 4 {
		for _, a := range streamJourney(u, time.Now().Add(-time.Hour)) {
			v, _ := json.Marshal(a)
			msgs = append(msgs, kafka.Message{Topic: sAttempts, Key: kstream.Key(a.Tenant, a.UserID), Value: v})
		}
	}
	produceStream(t, brokers, msgs)
	var held atomic.Int32
	release := make(chan struct{})
	kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		held.Add(1)
		kc.SleepControl(func() { <-release })
		return nil, nil, false
	})
	t.Cleanup(func() { close(release) }) // before the cluster closes

	const timeout = time.Second
	var logs syncbuf.Buffer
	cfg := node.Config{
		HTTP:     node.HTTPConfig{Addr: "127.0.0.1:0"},
		Shutdown: node.ShutdownConfig{Timeout: timeout},
		Kafka: kstream.Options{
			Brokers: brokers, AttemptsTopic: sAttempts, DecisionsTopic: sDecisions, AlertsTopic: sAlerts,
			Group: "hung", Workers: 2, BatchSize: 8, SessionTimeout: time.Second,
		},
	}
	n, err := node.New(context.Background(), cfg, node.WithSecret(streamSecret), node.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Credential stuffing over the API: denied and alerted from the 10th
	// failure on, the alerts queued for the hung sink.
	for i := range 20 {
		body := fmt.Sprintf(`{"tenant":"api","ip":"203.0.113.7","user_id":"victim-%d","result":"password_bad"}`, i)
		resp, err := http.Post("http://"+addrs.HTTP+"/v1/score", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("score: %s", resp.Status)
		}
	}
	for end := time.Now().Add(30 * time.Second); held.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no produce request reached the broker:\n%s", logs.String())
		}
	}
	cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second): // kafka.Writer.Close alone waits 30 s
		t.Fatalf("Serve did not return within 30 s of the shutdown (--shutdown-timeout %v):\n%s", timeout, logs.String())
	}
	t.Logf("Serve = %v", err)
	// 2 x timeout and a second's grace each, and room for a loaded machine.
	if took := time.Since(start); took > 2*timeout+2*time.Second+5*time.Second {
		t.Errorf("the shutdown took %v with --shutdown-timeout %v", took, timeout)
	}
	if err == nil {
		t.Fatalf("Serve = nil after a shutdown that left the stream undrained and the alerts undelivered:\n%s", logs.String())
	}
	for _, want := range []string{"left uncommitted, to be delivered again", "sink kafka: ", "alerts not delivered before the shutdown deadline"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Serve = %v, want %q", err, want)
		}
	}
}
