package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// CertificateCollector exports the listeners' certificates: when the one
// in use expires, and how many reloads (SIGHUP) were refused, the previous
// pair kept. A rotation that keeps failing is otherwise only a log line,
// until clients start refusing an expired certificate.
func (s *Server) CertificateCollector() prometheus.Collector { return certCollector{s} }

type certCollector struct{ s *Server }

var (
	certExpiry = prometheus.NewDesc("riskgate_tls_certificate_expiry_timestamp_seconds",
		"When the listener's certificate in use stops being of use: the first NotAfter of its chain (its own, or an intermediate's that comes sooner), by listener and certificate file.", []string{"listener", "cert"}, nil)
	certFailures = prometheus.NewDesc("riskgate_tls_certificate_reload_failures_total",
		"Certificate reloads (its files changed, or SIGHUP) refused, the previous certificate kept, by listener and certificate file.", []string{"listener", "cert"}, nil)
	certSuccess = prometheus.NewDesc("riskgate_tls_certificate_last_reload_success",
		"1 while the listener's certificate is as last read (at start, or its last reload succeeded), 0 while its last reload was refused (its files deleted too) and none succeeded since: what is on disk is not served. By listener and certificate file.", []string{"listener", "cert"}, nil)
)

func (c certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certExpiry
	ch <- certFailures
	ch <- certSuccess
}

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cert := range c.s.certs {
		if until := cert.UsefulUntil(); !until.IsZero() {
			ch <- prometheus.MustNewConstMetric(certExpiry, prometheus.GaugeValue, float64(until.Unix()), cert.listener, cert.Path())
		}
		ch <- prometheus.MustNewConstMetric(certFailures, prometheus.CounterValue, float64(cert.Failures()), cert.listener, cert.Path())
		ch <- prometheus.MustNewConstMetric(certSuccess, prometheus.GaugeValue, metricset.ReloadSuccess(cert.Failing()), cert.listener, cert.Path())
	}
}
