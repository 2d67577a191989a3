package node

import (
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/internal/metricset"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// The TLS files besides the listeners' own key pairs (those have the
// server's CertificateCollector): the CAs that client certificates, the
// brokers', the webhook's and Redis's certificates must chain to, and
// the client certificates riskgate presents to Kafka and Redis. Each is re-read on SIGHUP; when one expires every
// handshake through it fails (mutual TLS clients refused, the stream
// disconnected for good, alerts undelivered, Redis out of reach), and
// nothing before says so.
var (
	tlsFileExpiryDesc = prometheus.NewDesc("riskgate_tls_file_expiry_timestamp_seconds",
		"When each TLS file in use stops being of use, by use (http-client-ca, grpc-client-ca, kafka-ca, kafka-client-cert, webhook-ca, store-ca, store-client-cert) and file, as loaded at start or last re-read (the file changed, or SIGHUP): a CA file when its last certificate expires (a peer signed by a CA of the file that expires sooner fails sooner: watch the peers' own certificates), a client certificate (Kafka's, Redis's) when the first of its chain does.",
		[]string{"use", "file"}, nil)
	tlsFileFailuresDesc = prometheus.NewDesc("riskgate_tls_file_reload_failures_total",
		"Re-reads of a TLS file (it changed on disk, or SIGHUP) refused, what was loaded before kept in use, by use and file.",
		[]string{"use", "file"}, nil)
	tlsFileSuccessDesc = prometheus.NewDesc("riskgate_tls_file_last_reload_success",
		"1 while each TLS file in use is as last read (at start, or its last re-read succeeded), 0 while its last re-read was refused (the file deleted too) and none succeeded since: what is on disk is not in force. By use and file.",
		[]string{"use", "file"}, nil)
)

// addTLSFiles adds files in use, as each part is built: the listeners'
// client CAs, the stream's, the webhook's, Redis's.
func (n *Node) addTLSFiles(files []tlsfiles.Use) {
	n.tlsMu.Lock()
	defer n.tlsMu.Unlock()
	n.tlsFiles = append(n.tlsFiles, files...)
}

func (n *Node) tlsFilesInUse() []tlsfiles.Use {
	n.tlsMu.Lock()
	defer n.tlsMu.Unlock()
	return n.tlsFiles
}

// reloadTLSFiles is SIGHUP's part for the TLS files: each is re-read, and
// the next handshakes use what it holds; a file that fails keeps what was
// loaded before (a CA bundle or key pair caught half written, a key that
// does not match its certificate). The open connections of clients that
// a client CA file no longer trusts are closed after (cutUntrustedClients).
func (n *Node) reloadTLSFiles() error { return n.reloadTLSFilesOf("") }

// reloadTLSFilesOf re-reads the TLS files that read path, or all of them
// for "".
func (n *Node) reloadTLSFilesOf(path string) error {
	var errs []error
	for _, f := range n.tlsFilesInUse() {
		if path != "" && !slices.Contains(f.File.Paths(), path) {
			continue
		}
		refused := f.File.Failing()
		changed, err := f.File.Reload()
		switch {
		case err != nil:
			n.log.Error("tls file reload failed; the previous contents stay in use", "use", f.Use, "file", f.File.Path(), "err", err)
			errs = append(errs, fmt.Errorf("tls %s: %w", f.Use, err))
		case changed:
			n.log.Info("tls file reloaded", "use", f.Use, "file", f.File.Path(), "useful_until", f.File.UsefulUntil())
		case refused:
			n.log.Info("tls file no longer refused; the contents in use are unchanged", "use", f.Use, "file", f.File.Path())
		}
	}
	return errors.Join(errs...)
}

// cutUntrustedClients closes the open connections of the listeners'
// clients that their client CA file, as just re-read, no longer trusts.
func (n *Node) cutUntrustedClients(srv *server.Server) {
	for listener, closed := range srv.CutUntrustedClients() {
		if closed > 0 {
			n.log.Warn("connections of clients the client CA file no longer trusts closed", "listener", listener, "closed", closed)
		}
	}
}

// tlsFilesCollector exports the node's TLS files. A file given for a part
// that is off (Kafka without brokers, a webhook CA without a webhook, a
// client CA without its listener) has no series: it is not loaded.
type tlsFilesCollector struct{ n *Node }

func (c tlsFilesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tlsFileExpiryDesc
	ch <- tlsFileFailuresDesc
	ch <- tlsFileSuccessDesc
}

func (c tlsFilesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.n.tlsFilesInUse() {
		ch <- prometheus.MustNewConstMetric(tlsFileExpiryDesc, prometheus.GaugeValue, float64(f.File.UsefulUntil().Unix()), f.Use, f.File.Path())
		ch <- prometheus.MustNewConstMetric(tlsFileFailuresDesc, prometheus.CounterValue, float64(f.File.Failures()), f.Use, f.File.Path())
		ch <- prometheus.MustNewConstMetric(tlsFileSuccessDesc, prometheus.GaugeValue, metricset.ReloadSuccess(f.File.Failing()), f.Use, f.File.Path())
	}
}
