//go:build unix

package node_test

import (
	"context"
	"path/filepath"
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
