//go:build unix

package node_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riskgate/riskgate/node"
)

// TestFIFODataFileRefusedAtStart: a FIFO given as a GeoIP database, an IP
// list, the Tor list, the breached filter or a rule file stops start-up
// at once with "not a regular file" naming it, instead of hanging before
// the node listens (where SIGTERM cannot stop it).
func TestFIFODataFileRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
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
			done := make(chan error, 1)
			go func() {
				n, err := node.New(context.Background(), cfg, node.WithLogger(quiet()))
				if err == nil {
					_ = n.Close(context.Background())
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
					t.Fatalf("err = %v, want not a regular file naming %s", err, fifo)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("start-up blocked on the FIFO")
			}
		})
	}
}
