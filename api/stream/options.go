package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// Options configure a Runner. Each field is one setting of `riskgate
// serve` (flag --kafka-NAME, variable RISKGATE_KAFKA_NAME, key kafka.NAME
// of the configuration file); the struct tags are the flags' help and
// defaults, so the serve command can embed Options with prefix "kafka-".
// The zero value of a field means its default.
type Options struct {
	// Brokers are the bootstrap brokers, host:port. Setting them turns the
	// stream on.
	Brokers []string `help:"Kafka bootstrap brokers (host:port,...). Setting them starts the stream consumer next to the APIs; without them the other --kafka-* settings are ignored, with a warning at start." placeholder:"HOST:PORT" sep:","`
	// AttemptsTopic is consumed: each message is an attempt, as POST
	// /v1/score takes it, and is scored.
	AttemptsTopic string `help:"Topic of login attempts to score (JSON as POST /v1/score takes it, or protobuf riskgate.v1.Attempt)." placeholder:"TOPIC"`
	// OutcomesTopic is consumed: each message is an outcome, as POST
	// /v1/outcome takes it, and is reported.
	OutcomesTopic string `help:"Topic of outcomes to report (JSON as POST /v1/outcome takes it, or protobuf riskgate.v1.ReportRequest)." placeholder:"TOPIC"`
	// DecisionsTopic receives a decision per attempt, keyed
	// tenant/user (see Key).
	DecisionsTopic string `help:"Topic the decisions are written to, keyed <tenant>/<user>." placeholder:"TOPIC"`
	// AlertsTopic receives the alerts of the decisions that alert.
	AlertsTopic string `help:"Topic the alerts are written to (schema riskgate.alert.v1)." placeholder:"TOPIC"`
	// DeadLetterTopic receives the messages that cannot be decoded or are
	// invalid, with the error and their origin in headers, and the values
	// that are or may be secrets redacted (HeaderRedacted). Without it
	// they are logged and counted, and skipped.
	DeadLetterTopic string `help:"Topic for messages that cannot be decoded or are invalid, with the error, original topic, partition and offset in headers; values that are or may be secrets are redacted (header riskgate-redacted). Without one they are logged, counted and skipped." placeholder:"TOPIC"`
	// Group is the consumer group: nodes in one group share the partitions.
	Group string `help:"Consumer group id; riskgate nodes in one group share the partitions." default:"riskgate"`
	// ClientID names this client to the brokers (in their logs and quotas).
	ClientID string `help:"Client id sent to the brokers." default:"riskgate"`
	// StartOffset is where a group with no committed offset starts:
	// earliest (every message still in the topic) or latest (only new ones).
	StartOffset string `help:"Where a new consumer group starts: earliest or latest." default:"earliest" enum:"earliest,latest"`
	// Workers score concurrently; a partition is always handled by one
	// worker, in order. Default: the number of CPUs.
	Workers int `help:"Goroutines scoring messages; each partition is handled by one, in order (0: one per CPU)." default:"0"`
	// BufferSize bounds the messages fetched and not yet committed. When
	// outputs cannot be written (broker down), workers retry and fetching
	// stops once the buffer is full: nothing is dropped, the topic holds
	// the rest. (Each assigned partition's reader also reads up to 100
	// messages ahead.)
	BufferSize int `help:"Messages fetched and not yet committed, at most; when the outputs cannot be written, fetching pauses once it is full. 0: the default, 4096." default:"4096"`
	// BatchSize bounds the messages a worker decides before writing their
	// outputs and committing them in one go.
	BatchSize int `help:"Messages a worker decides before it writes their outputs and commits them together. 0: the default, 256." default:"256"`
	// AttemptFormat is the encoding of messages without a content-type
	// header: json or protobuf. A content-type header (application/json,
	// application/x-protobuf) wins.
	AttemptFormat string `help:"Encoding of attempt and outcome messages without a content-type header: json or protobuf." default:"json" enum:"json,protobuf"`
	// OmitSignals leaves the signals out of the decisions written, as
	// ?omit_signals=true does over HTTP.
	OmitSignals bool `help:"Leave the signals out of the decisions written to the decisions topic."`
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to others.
	SessionTimeout time.Duration `help:"Consumer group session timeout: how long a silent node keeps its partitions. 0: the default, 10s." default:"10s"`
	// StoreTimeout bounds each store call made for a consumed attempt or
	// outcome, where the engine's --store-timeout is shorter: that bound
	// is set for logins someone waits on, better decided at once without
	// state than late. No one waits on a consumed attempt, and one decided
	// without state is decided worse (no baseline, its windows
	// uncounted), and a redelivery so is decided again.
	StoreTimeout time.Duration `help:"Bound on each store call for a consumed attempt or outcome, where --store-timeout is shorter (no one waits on them, and one decided without state is decided worse). 0: the default, 1s." default:"1s"`
	// ShutdownTimeout bounds the drain on shutdown: finishing the messages
	// in flight, writing their outputs and committing them. The serve
	// command sets it from --shutdown-timeout.
	ShutdownTimeout time.Duration `kong:"-" yaml:"-"`

	TLS  TLSOptions  `embed:"" prefix:"tls-" yaml:"tls"`
	SASL SASLOptions `embed:"" prefix:"sasl-" yaml:"sasl"`
}

// TLSOptions configure TLS to the brokers.
type TLSOptions struct {
	// Enabled turns TLS on with the system's CAs; CA, Cert and Key imply
	// it.
	Enabled bool `help:"Connect to the brokers with TLS (implied by the other --kafka-tls-* settings)." yaml:"enabled"`
	// CA is a PEM file of the CAs that broker certificates must chain to;
	// default the system's.
	CA string `help:"CA certificates (PEM) the brokers' certificates must chain to (default: the system's). Re-read when it changes, and on SIGHUP." placeholder:"FILE"`
	// Cert and Key are the client certificate and key (PEM), for brokers
	// that require client authentication.
	Cert string `help:"Client certificate (PEM), for brokers that require one. Re-read with its key when they change, and on SIGHUP." placeholder:"FILE"`
	Key  string `help:"Client certificate's private key (PEM)." placeholder:"FILE"`
	// ServerName overrides the name checked in broker certificates.
	ServerName string `help:"Name to verify in the brokers' certificates, when it is not their host name."`
}

// SASLOptions configure SASL authentication.
type SASLOptions struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none.
	// PLAIN sends the password in clear: use it only with TLS.
	Mechanism string `help:"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL). PLAIN only with TLS." enum:",PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" default:""`
	Username  string `help:"SASL user name."`
	// PasswordFile holds the password; or set Password (from the
	// RISKGATE_KAFKA_SASL_PASSWORD variable). Never a flag.
	PasswordFile string `help:"File holding the SASL password. Or set RISKGATE_KAFKA_SASL_PASSWORD." placeholder:"FILE"`
	Password     string `kong:"-" yaml:"-" json:"-"`
}

// EnvSASLPassword is the variable the SASL password may come from.
const EnvSASLPassword = "RISKGATE_KAFKA_SASL_PASSWORD"

// Enabled reports whether the stream is configured at all.
func (o *Options) Enabled() bool { return len(o.Brokers) > 0 }

// withDefaults validates o and fills its defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Brokers) == 0 {
		return o, errors.New("stream: no brokers")
	}
	for _, b := range o.Brokers {
		if !strings.Contains(b, ":") {
			return o, fmt.Errorf("stream: broker %q: want host:port", b)
		}
	}
	if o.AttemptsTopic == "" && o.OutcomesTopic == "" {
		return o, errors.New("stream: neither an attempts nor an outcomes topic to consume")
	}
	if o.AttemptsTopic != "" && o.DecisionsTopic == "" && o.AlertsTopic == "" {
		return o, errors.New("stream: attempts are consumed but neither a decisions nor an alerts topic is set: decisions would go nowhere")
	}
	topics := map[string]string{}
	for _, t := range [][2]string{
		{"attempts", o.AttemptsTopic}, {"outcomes", o.OutcomesTopic}, {"decisions", o.DecisionsTopic},
		{"alerts", o.AlertsTopic}, {"dead-letter", o.DeadLetterTopic},
	} {
		if t[1] == "" {
			continue
		}
		if other, ok := topics[t[1]]; ok {
			return o, fmt.Errorf("stream: topic %q is both the %s and the %s topic", t[1], other, t[0])
		}
		topics[t[1]] = t[0]
	}
	if o.Group == "" {
		o.Group = "riskgate"
	}
	if o.ClientID == "" {
		o.ClientID = "riskgate"
	}
	switch o.StartOffset {
	case "", "earliest", "latest":
	default:
		return o, fmt.Errorf("stream: start offset %q: want earliest or latest", o.StartOffset)
	}
	switch o.AttemptFormat {
	case "", formatJSON, formatProto:
	default:
		return o, fmt.Errorf("stream: attempt format %q: want json or protobuf", o.AttemptFormat)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 4096
	}
	o.BufferSize = max(o.BufferSize, o.Workers)
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 15 * time.Second
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = time.Second
	}
	return o, nil
}

func (o *Options) startOffset() int64 {
	if o.StartOffset == "latest" {
		return kafka.LastOffset
	}
	return kafka.FirstOffset
}

// BrokerTLS is TLS to the brokers: the CA file and the client key pair,
// read once for every client of the stream (the runner, the alert sink),
// each connection made with their contents in force. Re-reading them
// (SIGHUP) is their owner's: see Files and tlsfiles.
type BrokerTLS struct {
	serverName string // --kafka-tls-server-name; empty: the broker's host
	cas        *tlsfiles.CAs
	cert       *tlsfiles.KeyPair
	net        net.Dialer
}

// LoadBrokerTLS reads the TLS files o names; nil without TLS.
func LoadBrokerTLS(o TLSOptions) (*BrokerTLS, error) {
	if !o.Enabled && o.CA == "" && o.Cert == "" && o.Key == "" && o.ServerName == "" {
		return nil, nil
	}
	t := &BrokerTLS{serverName: o.ServerName}
	if o.CA != "" {
		cas, err := tlsfiles.LoadCAs(o.CA)
		if err != nil {
			return nil, fmt.Errorf("stream: tls ca: %w", err)
		}
		t.cas = cas
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, errors.New("stream: tls cert and key go together")
	}
	if o.Cert != "" {
		cert, err := tlsfiles.LoadKeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("stream: tls client certificate: %w", err)
		}
		t.cert = cert
	}
	return t, nil
}

// config is the TLS configuration of a connection to address (host:port):
// the CAs and the client certificate in force, the name to verify as
// kafka-go would set it (the host dialed, unless overridden).
func (t *BrokerTLS) config(address string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.serverName}
	if c.ServerName == "" {
		c.ServerName = address
		if host, _, err := net.SplitHostPort(address); err == nil {
			c.ServerName = host
		}
	}
	tlsfiles.Apply(c, t.cas, t.cert)
	return c
}

// dial is the brokers' dial function, TLS included: kafka-go is given no
// TLS configuration of its own, since it would keep it for good.
func (t *BrokerTLS) dial(ctx context.Context, network, address string) (net.Conn, error) {
	raw, err := t.net.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, t.config(address))
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return conn, nil
}

// Files are the TLS files in use: kafka-ca, kafka-client-cert.
func (t *BrokerTLS) Files() []tlsfiles.Use {
	if t == nil {
		return nil
	}
	var out []tlsfiles.Use
	if t.cas != nil {
		out = append(out, tlsfiles.Use{Use: "kafka-ca", File: t.cas})
	}
	if t.cert != nil {
		out = append(out, tlsfiles.Use{Use: "kafka-client-cert", File: t.cert})
	}
	return out
}

// mechanism builds the SASL mechanism, or nil without SASL.
func (o *SASLOptions) mechanism() (sasl.Mechanism, error) {
	if o.Mechanism == "" {
		if o.Username != "" || o.PasswordFile != "" {
			return nil, errors.New("stream: sasl user or password given without a mechanism")
		}
		return nil, nil
	}
	if o.Username == "" {
		return nil, fmt.Errorf("stream: sasl %s needs a user name", o.Mechanism)
	}
	pw := o.Password
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("stream: sasl password: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if pw == "" {
		return nil, fmt.Errorf("stream: sasl %s needs a password (--kafka-sasl-password-file or %s)", o.Mechanism, EnvSASLPassword)
	}
	switch strings.ToUpper(o.Mechanism) {
	case "PLAIN":
		return plain.Mechanism{Username: o.Username, Password: pw}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, o.Username, pw)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, o.Username, pw)
	}
	return nil, fmt.Errorf("stream: sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", o.Mechanism)
}

// connection is what every client of the stream dials with.
type connection struct {
	dialer    *kafka.Dialer
	transport *kafka.Transport
	tls       *BrokerTLS // nil without TLS
}

// connection is made with bt, the TLS files already loaded; nil: loaded
// from o.TLS.
func (o *Options) connection(bt *BrokerTLS) (connection, error) {
	if bt == nil {
		var err error
		if bt, err = LoadBrokerTLS(o.TLS); err != nil {
			return connection{}, err
		}
	}
	mech, err := o.SASL.mechanism()
	if err != nil {
		return connection{}, err
	}
	const dialTimeout = 10 * time.Second
	c := connection{
		dialer: &kafka.Dialer{ClientID: o.ClientID, Timeout: dialTimeout, DualStack: true, SASLMechanism: mech},
		transport: &kafka.Transport{
			ClientID: o.ClientID, DialTimeout: dialTimeout, SASL: mech, IdleTimeout: time.Minute,
			MetadataTTL: 15 * time.Second,
		},
		tls: bt,
	}
	if bt != nil {
		c.dialer.DialFunc, c.transport.Dial = bt.dial, bt.dial
	}
	return c, nil
}
