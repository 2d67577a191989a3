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
	"When the first certificate to expire in each TLS file the node read at start expires (its NotAfter), by use (http-client-ca, grpc-client-ca, kafka-ca, kafka-client-cert, webhook-ca) and file. These files are not reloaded: restart the node after renewing one.",
	[]string{"use", "file"}, nil)

// tlsFileExpiry is one file's earliest NotAfter.
type tlsFileExpiry struct {
	use, file string
	notAfter  time.Time
}

// tlsFileExpiries reads the TLS files cfg names, other than the
// listeners' certificates. A file that cannot be read or holds no
// certificate has no series: its user refused it at start already.
func tlsFileExpiries(cfg *Config) []tlsFileExpiry {
	var out []tlsFileExpiry
	for _, f := range []struct{ use, file string }{
		{"http-client-ca", cfg.HTTP.TLS.ClientCA},
		{"grpc-client-ca", cfg.GRPC.TLS.ClientCA},
		{"kafka-ca", cfg.Kafka.TLS.CA},
		{"kafka-client-cert", cfg.Kafka.TLS.Cert},
		{"webhook-ca", cfg.Alerts.WebhookCA},
	} {
		if f.file == "" {
			continue
		}
		if at, ok := earliestNotAfter(f.file); ok {
			out = append(out, tlsFileExpiry{f.use, f.file, at})
		}
	}
	return out
}

// earliestNotAfter is when the first certificate in a PEM file expires:
// a chain or a bundle fails with its first certificate to expire, or
// loses what that certificate vouched for.
func earliestNotAfter(path string) (time.Time, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	var first time.Time
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
		if first.IsZero() || c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	return first, !first.IsZero()
}

type tlsFilesCollector []tlsFileExpiry

func (c tlsFilesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tlsFileExpiryDesc }

func (c tlsFilesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c {
		ch <- prometheus.MustNewConstMetric(tlsFileExpiryDesc, prometheus.GaugeValue, float64(f.notAfter.Unix()), f.use, f.file)
	}
}
