package node

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tlsFileExpiryDesc is riskgate_tls_file_expiry_timestamp_seconds. The
// listeners' own certificates have their expiry (server's
// CertificateCollector) and are reloaded on SIGHUP; the files here are
// read once, at start: the CAs that client certificates, the brokers'
// and the webhook's certificates must chain to, and Kafka's client
// certificate. When one of them expires every handshake through it fails
// (mutual TLS clients refused, the stream disconnected for good, alerts
// undelivered), and nothing before says so.
var tlsFileExpiryDesc = prometheus.NewDesc("riskgate_tls_file_expiry_timestamp_seconds",
	"When each TLS file the node read at start and uses stops being of use, by use (http-client-ca, grpc-client-ca, kafka-ca, kafka-client-cert, webhook-ca) and file: a CA file when its last certificate expires (a peer signed by a CA of the file that expires sooner fails sooner: watch the peers' own certificates), Kafka's client certificate when the first of its chain does. These files are not reloaded: restart the node after renewing one.",
	[]string{"use", "file"}, nil)

// tlsFileExpiry is one file's earliest NotAfter.
type tlsFileExpiry struct {
	use, file string
	notAfter  time.Time
}

// tlsFileExpiries reads the TLS files cfg names and the node uses, other
// than the listeners' certificates: a file given for a part that is off
// (Kafka without brokers, a webhook CA without a webhook, a client CA
// without its listener) has no series, nor does a file that cannot be
// read or holds no certificate (its user refused it at start already).
func tlsFileExpiries(cfg *Config) []tlsFileExpiry {
	kafka, webhook := cfg.Kafka.Enabled(), cfg.Alerts.WebhookURL != ""
	var out []tlsFileExpiry
	for _, f := range []struct {
		use, file string
		inUse     bool
		chain     bool // a certificate and its chain, not CAs
	}{
		{"http-client-ca", cfg.HTTP.TLS.ClientCA, cfg.HTTP.Addr != "", false},
		{"grpc-client-ca", cfg.GRPC.TLS.ClientCA, cfg.GRPC.Addr != "", false},
		{"kafka-ca", cfg.Kafka.TLS.CA, kafka, false},
		{"kafka-client-cert", cfg.Kafka.TLS.Cert, kafka, true},
		{"webhook-ca", cfg.Alerts.WebhookCA, webhook, false},
	} {
		if f.file == "" || !f.inUse {
			continue
		}
		if at, ok := usefulUntil(f.file, f.chain); ok {
			out = append(out, tlsFileExpiry{f.use, f.file, at})
		}
	}
	return out
}

// usefulUntil is when a PEM file of certificates stops being of use: a
// chain (a certificate and its intermediates) when its first certificate
// expires, since the chain fails with it; a file of CAs when its last
// does, since until then it verifies with the others (a system bundle
// holds roots expired years ago; a rotation holds the old CA beside the
// new one).
func usefulUntil(path string, chain bool) (time.Time, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	var at time.Time
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		if at.IsZero() || chain && c.NotAfter.Before(at) || !chain && c.NotAfter.After(at) {
			at = c.NotAfter
		}
	}
	return at, !at.IsZero()
}

type tlsFilesCollector []tlsFileExpiry

func (c tlsFilesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tlsFileExpiryDesc }

func (c tlsFilesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c {
		ch <- prometheus.MustNewConstMetric(tlsFileExpiryDesc, prometheus.GaugeValue, float64(f.notAfter.Unix()), f.use, f.file)
	}
}
