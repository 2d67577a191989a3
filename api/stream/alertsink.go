package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/alert"
)

// AlertSink is an alert.Sink writing to the alerts topic: it carries the
// alerts of decisions made over HTTP and gRPC. Register it with the
// dispatcher with SkipClaimed set when a Runner writes the alerts of its
// own decisions to the same topic (see Deps.Claims).
type AlertSink struct {
	w     *kafka.Writer
	topic string
}

// NewAlertSink returns a sink writing to opts.AlertsTopic on opts.Brokers,
// with the same TLS and SASL settings as the runner.
//
// tls is opts.TLS's files as the runner loaded them (LoadBrokerTLS), so
// that one copy of them is re-read on SIGHUP; nil: loaded here.
func NewAlertSink(opts Options, tls *BrokerTLS) (*AlertSink, error) {
	if len(opts.Brokers) == 0 || opts.AlertsTopic == "" {
		return nil, errors.New("stream: alert sink needs brokers and an alerts topic")
	}
	conn, err := opts.connection(tls)
	if err != nil {
		return nil, err
	}
	return &AlertSink{topic: opts.AlertsTopic, w: &kafka.Writer{
		Addr: kafka.TCP(opts.Brokers...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond, MaxAttempts: 3, WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		Transport: conn.transport,
	}}, nil
}

// Name implements alert.Sink.
func (s *AlertSink) Name() string { return "kafka" }

// Send implements alert.Sink: the alerts are acknowledged by all in-sync
// replicas, or reported as failed from the first one that was not.
func (s *AlertSink) Send(ctx context.Context, alerts []*alert.Alert) (int, error) {
	msgs := make([]kafka.Message, len(alerts))
	for i, a := range alerts {
		v, err := alert.Marshal(a)
		if err != nil {
			return i, alert.Permanent(err)
		}
		msgs[i] = kafka.Message{
			Topic: s.topic, Key: AlertKey(a), Value: v,
			Headers: []kafka.Header{{Key: HeaderContentType, Value: []byte("application/json")}},
		}
	}
	err := s.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return len(alerts), nil
	}
	var we kafka.WriteErrors
	n := 0
	if errors.As(err, &we) {
		for n < len(we) && we[n] == nil {
			n++
		}
	}
	return n, fmt.Errorf("stream: write alerts: %w", err)
}

// Close implements alert.Sink: it waits for the writes in progress until
// ctx ends. The writer's Close waits for every batch it holds, each
// retried up to three times with 10 s timeouts, however long brokers that
// do not answer take: past ctx, those batches are abandoned (the
// dispatcher has counted their alerts as not delivered; some may still
// arrive) and the error says so.
func (s *AlertSink) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.w.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // nothing was pending
			return err
		default:
		}
		return fmt.Errorf("stream: alerts writer: writes to the brokers still in progress at the shutdown deadline, abandoned: %w", ctx.Err())
	}
}
