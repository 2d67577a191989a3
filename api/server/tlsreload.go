package server

import (
	"errors"
	"fmt"
	"slices"

	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// The listeners' TLS files at run time: re-reading the key pairs, and
// cutting the clients a re-read client CA file no longer trusts.

// TLSFiles are the client CA files of the listeners served
// (http-client-ca, grpc-client-ca). Each handshake verifies client
// certificates against the file's contents in force: re-reading them
// (SIGHUP) is their owner's, see tlsfiles. The listeners' key pairs are
// ReloadCertificates'.
func (s *Server) TLSFiles() []tlsfiles.Use {
	var out []tlsfiles.Use
	for _, l := range s.clientCAs {
		out = append(out, tlsfiles.Use{Use: l.listener + "-client-ca", File: l.cas.cas})
	}
	return out
}

// listenerCAs is a served listener's client CA file.
type listenerCAs struct {
	listener string // http or grpc
	cas      *clientCAs
}

// CutUntrustedClients closes the open connections of clients whose
// certificate no longer chains to a CA of their listener's client CA file
// as it was last re-read (TLSFiles), and returns how many it closed, by
// listener (http, grpc). A listener whose file did not change since the
// last call is not looked at; a certificate that expired while its
// connection was open does not count (it was valid at the handshake). Call it after re-reading the files: a
// connection is otherwise checked only at its handshake, and an HTTP
// client that calls often keeps its connection for good.
func (s *Server) CutUntrustedClients() map[string]int {
	out := map[string]int{}
	for _, l := range s.clientCAs {
		out[l.listener] += l.cas.conns.cutUntrusted()
	}
	return out
}

// CertificateFiles are the listeners' certificate and key files, which
// ReloadCertificates reads.
func (s *Server) CertificateFiles() []string {
	var out []string
	for _, c := range s.certs {
		out = append(out, c.Paths()...)
	}
	return out
}

// FailingCertificates lists the certificate files of the listeners' key
// pairs whose last reload failed, none succeeding since.
func (s *Server) FailingCertificates() []string {
	var out []string
	for _, c := range s.certs {
		if c.Failing() {
			out = append(out, c.Path())
		}
	}
	return out
}

// ReloadCertificates reloads the listeners' key pairs (SIGHUP); a
// certificate that fails to load keeps the previous one.
func (s *Server) ReloadCertificates() error { return s.ReloadCertificatesOf("") }

// ReloadCertificatesOf reloads the listeners' key pairs that read path
// (their certificate or key file), or all of them for "": a listener's
// renewal is not held back, nor retried, for another listener's broken
// files.
func (s *Server) ReloadCertificatesOf(path string) error {
	var errs []error
	for _, c := range s.certs {
		if path != "" && !slices.Contains(c.Paths(), path) {
			continue
		}
		refused := c.Failing()
		changed, err := c.Reload()
		switch {
		case err != nil:
			s.log.Error("tls certificate reload failed; the previous one stays", "listener", c.listener, "cert", c.Path(), "err", err)
			errs = append(errs, fmt.Errorf("tls: %w", err))
		case changed:
			s.log.Info("tls certificate reloaded", "listener", c.listener, "cert", c.Path(), "useful_until", c.UsefulUntil())
		case refused:
			// Its files back as they were loaded (put back after a bad
			// copy or a deletion): the failure logged before is over.
			s.log.Info("tls certificate no longer refused; the one in use is unchanged", "listener", c.listener, "cert", c.Path())
		}
	}
	return errors.Join(errs...)
}
