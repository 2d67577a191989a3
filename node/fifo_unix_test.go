//go:build unix

package node_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/node"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestFIFODataFileRefusedAtStart: a FIFO given as a GeoIP database, an IP
// list, the Tor list, the breached filter or a rule file stops start-up
// at once with "not a regular file" naming it, instead of hanging before
// the node listens (where SIGTERM cannot stop it).
func TestFIFODataFileRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	fifotest.Make(t, fifo)
	for _, tc := range []struct {
		name string
		set  func(c *node.Config)
	}{
		{"geoip-city", func(c *node.Config) { c.GeoIP.City = []string{fifo} }},
		{"ip-list", func(c *node.Config) { c.GeoIP.IPLists = map[string]string{"deny": fifo} }},
		{"tor-exits", func(c *node.Config) { c.GeoIP.TorExits = fifo }},
		{"breached", func(c *node.Config) { c.Breached = fifo }},
		{"rules", func(c *node.Config) { c.Rules = []string{fifo} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg node.Config
			tc.set(&cfg)
			fifotest.Refused(t, "start-up", fifo, func() error {
				n, err := node.New(context.Background(), cfg, node.WithLogger(quiet()))
				if err == nil {
					_ = n.Close(context.Background())
				}
				return err
			})
		})
	}
}

// TestFIFOSecretFileDoesNotHang: a secret or token file may be a pipe
// (<(vault read ...)), but one that no one writes must not hang the
// start: it reads as empty, and is refused as too short.
func TestFIFOSecretFileDoesNotHang(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret")
	fifotest.Make(t, fifo)
	for _, tc := range []struct {
		name string
		set  func(c *node.Config)
	}{
		{"hmac-secret-file", func(c *node.Config) { c.HMACSecretFile = fifo }},
		{"admin-token-file", func(c *node.Config) { c.Auth.AdminTokenFile = fifo }},
		{"tenant-admin-tokens-file", func(c *node.Config) { c.Auth.TenantAdminTokensFile = fifo }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg node.Config
			tc.set(&cfg)
			var err error
			cfg.HTTP.Addr = "127.0.0.1:0" // the API's tokens are read when it listens
			fifotest.Returns(t, "start-up", func() {
				var n *node.Node
				if n, err = node.New(context.Background(), cfg, node.WithLogger(quiet())); err == nil {
					_, err = n.Listen()
					_ = n.Close(context.Background())
				}
			})
			if tc.name != "tenant-admin-tokens-file" && (err == nil || !strings.Contains(err.Error(), "shorter than")) {
				t.Errorf("err = %v, want the empty secret refused", err)
			}
		})
	}
}
