package stream

import (
	"slices"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// TestOptionsEmbedAsFlags: the serve command can embed Options with
// prefix "kafka-" and get the documented flags and defaults.
func TestOptionsEmbedAsFlags(t *testing.T) {
	var cli struct {
		Kafka Options `embed:"" prefix:"kafka-"`
	}
	p, err := kong.New(&cli, kong.Exit(func(int) { t.Fatal("exit") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{
		"--kafka-brokers", "k1:9092,k2:9092", "--kafka-attempts-topic", "a", "--kafka-decisions-topic", "d",
		"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "rg", "--kafka-tls-ca", "ca.pem",
		"--kafka-start-offset", "latest", "--kafka-omit-signals", "--kafka-store-timeout", "5s",
	}); err != nil {
		t.Fatal(err)
	}
	o := cli.Kafka
	if !slices.Equal(o.Brokers, []string{"k1:9092", "k2:9092"}) || o.AttemptsTopic != "a" || o.DecisionsTopic != "d" ||
		o.SASL.Mechanism != "SCRAM-SHA-512" || o.SASL.Username != "rg" || o.TLS.CA != "ca.pem" || o.StartOffset != "latest" || !o.OmitSignals || o.StoreTimeout != 5*time.Second {
		t.Fatalf("parsed %+v", o)
	}
	if o.Group != "riskgate" || o.ClientID != "riskgate" || o.BufferSize != 4096 || o.BatchSize != 256 ||
		o.AttemptFormat != "json" || o.SessionTimeout != 10*time.Second || o.ShutdownTimeout != 0 {
		t.Fatalf("defaults %+v", o)
	}
	if _, err := p.Parse(nil); err != nil || cli.Kafka.StoreTimeout != time.Second {
		t.Fatalf("default store timeout %v (%v), want 1s: Redis's read timeout", cli.Kafka.StoreTimeout, err)
	}
	for _, name := range []string{"kafka-sasl-password", "kafka-shutdown-timeout"} {
		if _, err := p.Parse([]string{"--" + name, "x"}); err == nil {
			t.Fatalf("--%s is a flag: secrets and serve's own settings must not be", name)
		}
	}
	if _, err := p.Parse([]string{"--kafka-sasl-mechanism", "GSSAPI"}); err == nil {
		t.Fatal("an unknown SASL mechanism parsed")
	}
}
