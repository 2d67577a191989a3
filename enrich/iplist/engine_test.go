package iplist_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/enrich/iplist"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

// askedEnricher records the addresses it is asked about, as a GeoIP
// database would be.
type askedEnricher struct {
	mu    sync.Mutex
	asked []netip.Addr
}

func (a *askedEnricher) Enrich(addr netip.Addr, _ *engine.Enrichment) error {
	a.mu.Lock()
	a.asked = append(a.asked, addr)
	a.mu.Unlock()
	return nil
}

// TestListsMatchEveryAddressClass: an operator's IP lists apply to the
// addresses they name whatever their class: a deny list or a corporate
// VPN in private, CGNAT, loopback or documentation space matches through
// the engine, as it does in the lists themselves. The engine asked no
// enricher about an address that is not public, so such a list was
// loaded and counted, and never matched (found by a stranger's pass).
// Enrichers of public data (GeoIP) are still not asked about them.
func TestListsMatchEveryAddressClass(t *testing.T) {
	dir := t.TempDir()
	deny := filepath.Join(dir, "deny.txt")
	if err := os.WriteFile(deny, []byte("10.1.2.0/24\n100.64.7.0/24\n198.51.100.0/24\nfd00:1::/32\n8.8.8.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lists, err := iplist.New(iplist.Options{Lists: map[string]string{"deny": deny}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lists.Close)
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close(context.Background()) })
	keyer, err := engine.NewKeyer([]byte("iplist-engine-test-secret-0123"))
	if err != nil {
		t.Fatal(err)
	}
	geo := &askedEnricher{}
	e, err := engine.New(engine.Options{
		Store: store, Rules: set, Keyer: keyer, Signals: signals.Default(signals.Config{}),
		Enrichers: []engine.Enricher{geo, lists}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip     string
		class  engine.IPClass
		listed bool
	}{
		{"10.1.2.3", engine.ClassPrivate, true},
		{"10.9.9.9", engine.ClassPrivate, false},
		{"100.64.7.1", engine.ClassCGNAT, true},
		{"198.51.100.7", engine.ClassReserved, true},
		{"fd00:1::5", engine.ClassPrivate, true},
		{"8.8.8.8", engine.ClassPublic, true},
		{"9.9.9.9", engine.ClassPublic, false},
	} {
		d, err := e.Score(context.Background(), engine.Attempt{Time: time.Now(), IP: tc.ip, Username: "alice", Result: engine.ResultPasswordOK})
		if err != nil {
			t.Fatal(err)
		}
		if got := engine.Classify(netip.MustParseAddr(tc.ip)); got != tc.class {
			t.Fatalf("%s is %s, the test wants %s", tc.ip, got, tc.class)
		}
		if listed := slices.Contains(d.Signals.IP.Lists, "deny"); listed != tc.listed {
			t.Errorf("%s (%s): ip.lists %v, want deny listed %v", tc.ip, tc.class, d.Signals.IP.Lists, tc.listed)
		}
		if denied := d.Action == engine.ActionDeny; denied != tc.listed {
			t.Errorf("%s (%s): %s, want denied %v", tc.ip, tc.class, d.Action, tc.listed)
		}
	}
	for _, a := range geo.asked {
		if engine.Classify(a) != engine.ClassPublic {
			t.Errorf("the GeoIP-like enricher was asked about %s, which is not public", a)
		}
	}
	if len(geo.asked) != 2 {
		t.Errorf("the GeoIP-like enricher was asked about %v, want the two public addresses", geo.asked)
	}
}
