package node_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
)

// A Kafka setting given without brokers leaves the stream off; the start
// says so, naming the settings, rather than starting without a word.
func TestKafkaSettingsWithoutBrokers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kafka kstream.Options
		want  string // the settings named; empty: no warning
	}{
		{"none", kstream.Options{Group: "riskgate", ClientID: "riskgate", StartOffset: "earliest"}, ""},
		{"topics", kstream.Options{AttemptsTopic: "a", AlertsTopic: "al"}, "--kafka-attempts-topic,--kafka-alerts-topic"},
		{"outcomes and dead letters", kstream.Options{OutcomesTopic: "o", DecisionsTopic: "d", DeadLetterTopic: "dl"},
			"--kafka-outcomes-topic,--kafka-decisions-topic,--kafka-dead-letter-topic"},
		{"tls", kstream.Options{TLS: kstream.TLSOptions{CA: "/nonexistent/ca.pem"}}, "--kafka-tls-*"},
		{"sasl", kstream.Options{SASL: kstream.SASLOptions{Username: "u"}}, "--kafka-sasl-*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncbuf.Buffer
			logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
			n, err := node.New(context.Background(), node.Config{Kafka: tc.kafka}, node.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close(context.Background())
			var line string
			for l := range strings.Lines(log.String()) {
				if strings.Contains(l, "kafka settings ignored") {
					line = l
				}
			}
			switch {
			case tc.want == "" && line != "":
				t.Fatalf("warned with no Kafka setting given: %s", line)
			case tc.want != "" && !strings.Contains(line, "settings="+tc.want+"\n"):
				t.Fatalf("want a warning naming %s; the log:\n%s", tc.want, log.String())
			}
		})
	}
}
