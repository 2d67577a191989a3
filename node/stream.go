package node

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// AlertsConfig is where alerts go: the sinks of api/alert (a JSONL file or
// standard output, a signed webhook), the Kafka alerts topic when the
// stream is configured (--kafka-alerts-topic), and, with none of them,
// structured log lines.
type AlertsConfig struct {
	alert.Config `embed:""`
	// Log writes each alert as a structured log line when no sink is
	// configured. The command line turns it on; a Config built in code
	// (replay, rule tests, benchmarks) raises no alerts unless it names a
	// sink.
	Log bool `help:"With no alert sink (file, webhook, Kafka topic), log each alert as a structured line." default:"true" negatable:""`
	// LogRate bounds those lines: a flood alerts on every attempt.
	LogRate int `help:"Alerts a second logged one by one (with --alerts-log); past that they are counted by rule in a line every 10s and as riskgate_alerts_dropped_total{reason=\"log_rate\"}, so that an attack does not flood the log. 0: every alert is logged." default:"100"`
}

// sinksConfigured reports whether the config names an alert sink.
func (c *Config) alertSinks() bool {
	return c.Alerts.File != "" || c.Alerts.WebhookURL != "" || c.Kafka.Enabled() && c.Kafka.AlertsTopic != ""
}

// kafkaWithoutBrokers names the Kafka settings that have no default and
// were given without brokers. Brokers are the stream's switch, so a
// configuration may keep the rest for the environments that have Kafka;
// but a forgotten or misspelt broker setting would otherwise leave the
// stream, and the alerts topic with it, off without a word.
func (c *Config) kafkaWithoutBrokers() []string {
	k := &c.Kafka
	if k.Enabled() {
		return nil
	}
	var names []string
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"--kafka-attempts-topic", k.AttemptsTopic != ""},
		{"--kafka-outcomes-topic", k.OutcomesTopic != ""},
		{"--kafka-decisions-topic", k.DecisionsTopic != ""},
		{"--kafka-alerts-topic", k.AlertsTopic != ""},
		{"--kafka-dead-letter-topic", k.DeadLetterTopic != ""},
		{"--kafka-tls-*", k.TLS != (stream.TLSOptions{})},
		{"--kafka-sasl-*", k.SASL.Mechanism != "" || k.SASL.Username != "" || k.SASL.PasswordFile != ""},
	} {
		if s.set {
			names = append(names, s.name)
		}
	}
	return names
}

// HealthKafka is the gRPC health-service name of the Kafka stream: SERVING
// while the node's last exchange with the brokers succeeded. /readyz and
// the unnamed health service stay about the process: an unreachable
// broker does not stop the APIs from scoring.
const HealthKafka = "riskgate.kafka"

// openAlerts builds the alert dispatcher (an observer the node closes after
// the transports have drained) and the stream runner the config asks for.
// It runs once the keyer is known, before the engine is built.
func (n *Node) openAlerts(keyer *engine.Keyer) ([]engine.Observer, error) {
	cfg := &n.cfg
	if names := cfg.kafkaWithoutBrokers(); len(names) > 0 {
		n.log.Warn("kafka settings ignored: the stream is off without --kafka-brokers", "settings", strings.Join(names, ","))
	}
	if !cfg.alertSinks() && !cfg.Alerts.Log && !cfg.Kafka.Enabled() {
		return nil, nil
	}
	if cfg.Alerts.WebhookSecret == "" {
		cfg.Alerts.WebhookSecret = os.Getenv(alert.EnvWebhookSecret)
	}
	if cfg.Kafka.SASL.Password == "" {
		cfg.Kafka.SASL.Password = os.Getenv(stream.EnvSASLPassword)
	}
	builder, err := cfg.Alerts.Builder(keyer)
	if err != nil {
		return nil, err
	}
	var observers []engine.Observer
	var dispatcher *alert.Dispatcher
	// One copy of Kafka's TLS files for the runner and the alert sink.
	var kafkaTLS *stream.BrokerTLS
	if cfg.Kafka.Enabled() {
		if kafkaTLS, err = stream.LoadBrokerTLS(cfg.Kafka.TLS); err != nil {
			return nil, err
		}
	}
	if cfg.alertSinks() || cfg.Alerts.Log {
		sinks, err := cfg.Alerts.Sinks()
		if err != nil {
			return nil, err
		}
		for _, s := range sinks {
			if f, ok := s.Sink.(interface{ TLSFiles() []tlsfiles.Use }); ok {
				n.addTLSFiles(f.TLSFiles())
			}
		}
		if cfg.Kafka.Enabled() && cfg.Kafka.AlertsTopic != "" {
			// Decisions made over HTTP and gRPC alert on the topic too;
			// the runner writes its own decisions' alerts itself, before
			// committing them, and claims them so they are not doubled.
			ks, err := stream.NewAlertSink(cfg.Kafka, kafkaTLS)
			if err != nil {
				for _, s := range sinks {
					_ = s.Sink.Close(context.Background())
				}
				return nil, err
			}
			sinks = append(sinks, alert.SinkConfig{Sink: ks, QueueSize: cfg.Alerts.QueueSize, SkipClaimed: true})
		}
		dispatcher, err = alert.NewDispatcher(alert.Options{
			Builder: builder, Sinks: sinks, Registerer: n.set.reg, Logger: n.log.With("component", "alerts"),
			LogPerSecond: cfg.Alerts.LogRate, TenantShare: cfg.Alerts.TenantShare,
		})
		if err != nil {
			for _, s := range sinks {
				_ = s.Sink.Close(context.Background())
			}
			return nil, err
		}
		n.dispatcher = dispatcher
		observers = append(observers, dispatcher)
		// Best effort, beside the store's close (see Close).
		n.closers = append(n.closers, closer{name: "alerts", close: dispatcher.Close, beside: true})
	}
	if cfg.Kafka.Enabled() {
		opts := cfg.Kafka
		if opts.ShutdownTimeout <= 0 {
			opts.ShutdownTimeout = cfg.Shutdown.Timeout
		}
		deps := stream.Deps{Alerts: builder, Registerer: n.set.reg, Logger: n.log, TLS: kafkaTLS}
		if dispatcher != nil {
			deps.Claims = dispatcher
		}
		r, err := stream.New(opts, deps)
		if err != nil {
			return nil, err
		}
		n.stream = r
		n.addTLSFiles(r.TLSFiles())
		n.set.runners = append(n.set.runners, r)
		n.checks = append(n.checks, server.Check{Name: "kafka", Optional: true, HealthService: HealthKafka, Check: func(context.Context) error {
			switch {
			case r.Connected():
				return nil
			case !r.Exchanged():
				return errKafkaNotYet
			}
			return errKafkaDisconnected
		}})
	}
	return observers, nil
}

var (
	errKafkaDisconnected = errors.New("kafka: the last exchange with the brokers failed")
	// errKafkaNotYet is the check's failure before the stream's first
	// exchange with the brokers: it said the last exchange failed, at
	// every start, before there was one.
	errKafkaNotYet = errors.New("kafka: not connected to the brokers yet")
)

// alertSinkNames names the configured alert sinks, for the configuration
// log line (never the webhook's URL, which may carry a token).
func alertSinkNames(c *Config) []string {
	var out []string
	if c.Alerts.File != "" {
		out = append(out, "file")
	}
	if c.Alerts.WebhookURL != "" {
		out = append(out, "webhook")
	}
	if c.Kafka.Enabled() && c.Kafka.AlertsTopic != "" {
		out = append(out, "kafka")
	}
	if len(out) == 0 && c.Alerts.Log {
		out = append(out, "log")
	}
	return out
}
