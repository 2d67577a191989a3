package node

import (
	"errors"
	"slices"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/internal/filewatch"
)

// watchTLSFiles re-reads the TLS files when they change on disk, as a
// SIGHUP does: the listeners' key pairs and client CAs, Kafka's, Redis's
// and the webhook's files. cert-manager renews into a Kubernetes secret
// volume and certbot into its live folder, and neither sends riskgate a
// signal: without the watch, a renewed certificate waited for one, and the
// old one expired in use. The files' identity is their content (they are
// small), so a touch is no change; a key pair is read once both its files
// settled (the watch's debounce), and one that still does not match, or
// any file that fails, is retried with the watch's backoff, each failure
// logged and counted as a SIGHUP's. Nil without TLS files.
func (n *Node) watchTLSFiles(srv *server.Server) *filewatch.Watcher {
	listener := srv.CertificateFiles()
	paths := slices.Clone(listener)
	for _, f := range n.tlsFilesInUse() {
		paths = append(paths, f.File.Paths()...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(paths) == 0 {
		return nil
	}
	w, err := filewatch.New(paths, func(path string) error {
		n.tlsReloadMu.Lock()
		defer n.tlsReloadMu.Unlock()
		err := n.reloadTLSFilesOf(path)
		if slices.Contains(listener, path) {
			err = errors.Join(err, srv.ReloadCertificatesOf(path))
		}
		n.cutUntrustedClients(srv)
		return err
	}, filewatch.Options{Content: true, Logger: n.log.With("component", "tls"),
		// A file put back as it was is read again: cheap, and only a
		// read clears its last_reload_success gauge.
		ReloadReverted: true,
		// A file deleted is refused: a restart would fail on it.
		ReportGone: true})
	if err != nil {
		// SIGHUP still reloads them.
		n.log.Error("TLS files are not watched; send SIGHUP after renewing one", "err", err)
		return nil
	}
	return w
}

// failingTLSFiles are the TLS files whose last re-read failed, by the
// name the watch knows a file or key pair by (its certificate's).
func (n *Node) failingTLSFiles(srv *server.Server) map[string]bool {
	out := map[string]bool{}
	for _, p := range srv.FailingCertificates() {
		out[p] = true
	}
	for _, f := range n.tlsFilesInUse() {
		if f.File.Failing() {
			out[f.File.Path()] = true
		}
	}
	return out
}

// tellTLSWatch tells the watch of the files a SIGHUP failed to re-read
// that were not failing before it (before: failingTLSFiles then). The
// watch may have them as loaded (unchanged since, or a failure that is
// not the file's: a folder unmounted for a moment); told, it retries
// them, and their last_reload_success gauge does not stay 0 until they
// change. A file failing before is the watch's already, with its backoff,
// which a second retry beside it would only double; a key pair is told
// by its certificate's name alone, for the same reason.
func (n *Node) tellTLSWatch(srv *server.Server, before map[string]bool) {
	if n.tlsWatch == nil {
		return
	}
	for p := range n.failingTLSFiles(srv) {
		if !before[p] {
			n.tlsWatch.Failed(p)
		}
	}
}
