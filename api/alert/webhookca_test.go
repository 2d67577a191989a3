package alert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/filetest"
)

// testCA is a CA and a server certificate it issued for 127.0.0.1.
type testCA struct {
	pem    []byte
	server tls.Certificate
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "soc.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
	}
}

// TestWebhookCAReload: the receiver moves to a certificate of another CA;
// until --alerts-webhook-ca is re-read with that CA (as SIGHUP does)
// deliveries fail their handshake, and from then on they are delivered.
// A file that fails to re-read keeps the CA in force.
func TestWebhookCAReload(t *testing.T) {
	oldCA, newCA := newTestCA(t, "old CA"), newTestCA(t, "new CA")
	h := &hookServer{t: t}
	srv := httptest.NewUnstartedServer(h)
	var serving atomic.Pointer[tls.Certificate]
	serving.Store(&oldCA.server)
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*serving.Load()}}, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	filetest.Replace(t, caFile, oldCA.pem)
	sinks, err := (&Config{WebhookURL: srv.URL + "/alerts", WebhookSecret: hookSecret, WebhookCA: caFile}).Sinks()
	if err != nil {
		t.Fatal(err)
	}
	sink := sinks[0].Sink.(*WebhookSink)
	defer sink.Close(t.Context())
	files := sink.TLSFiles()
	if len(files) != 1 || files[0].Use != "webhook-ca" || files[0].File.Path() != caFile {
		t.Fatalf("TLS files %+v", files)
	}
	send := func(id string) error {
		_, err := sink.Send(t.Context(), []*Alert{{Schema: SchemaID, AlertID: id}})
		return err
	}
	if err := send("a1"); err != nil {
		t.Fatalf("with the CA in force: %v", err)
	}

	serving.Store(&newCA.server)
	sink.httpClient().CloseIdleConnections() // the next send makes a handshake
	if err := send("a2"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a receiver's certificate of a CA not in the file: %v", err)
	}
	filetest.Replace(t, caFile, append(append([]byte{}, oldCA.pem...), newCA.pem...))
	if changed, err := files[0].File.Reload(); !changed || err != nil {
		t.Fatalf("reload: changed %v, err %v", changed, err)
	}
	if err := send("a3"); err != nil {
		t.Fatalf("after the reload: %v", err)
	}

	filetest.Replace(t, caFile, []byte("-----BEGIN CERTIFICATE-----\nMIIB"))
	if changed, err := files[0].File.Reload(); changed || err == nil {
		t.Fatalf("reload of a file cut short: changed %v, err %v", changed, err)
	}
	sink.httpClient().CloseIdleConnections() // the next send makes a handshake
	if err := send("a4"); err != nil {
		t.Fatalf("after a refused reload: %v", err)
	}
	if got := h.ids(); !slices.Equal(got, []string{"a1", "a3", "a4"}) {
		t.Fatalf("the receiver accepted %v", got)
	}
}
