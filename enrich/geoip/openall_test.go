package geoip

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// TestOpenSideBySide: New opens its files at the same time, so a node
// with several large databases waits for the slowest to be verified, not
// for their sum. The first file's open waits until the last one's has
// begun: one after the other, that never happens.
func TestOpenSideBySide(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two CPUs: New opens as many files at once as there are")
	}
	p := writeDefault(t)
	lastBegun := make(chan struct{})
	var waited atomic.Bool
	open := func(path string, role Role, dir string) (*database, error) {
		switch path {
		case p.City:
			select {
			case <-lastBegun:
				waited.Store(true)
			case <-time.After(10 * time.Second): // a deadlock guard, not a timing
			}
		case p.ASN:
			close(lastBegun)
		}
		return openDatabase(path, role, dir)
	}
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}, open: open})
	if !waited.Load() {
		t.Fatal("the city database was opened before the ASN database was begun: one after the other")
	}
	if r, _ := e.Lookup(geoipgen.Paris.Addr()); r.Location.City != "Paris" {
		t.Errorf("Paris: %+v", r.Location)
	}
	if got := e.Databases(); len(got) != 2 || got[0].Role != RoleCity || got[1].Role != RoleASN {
		t.Errorf("databases: %+v, want the city then the ASN database, in the configured order", got)
	}
}

// TestOpenFailureReleasesTheOthers: when one file of several fails, New
// names the first failing file in the configured order, whichever
// finished first, and releases every database it opened.
func TestOpenFailureReleasesTheOthers(t *testing.T) {
	p := writeDefault(t)
	dir := t.TempDir()
	badASN := filepath.Join(dir, "asn.mmdb")
	badAnon := filepath.Join(dir, "anonymous.mmdb")
	for _, f := range []string{badASN, badAnon} {
		if err := os.WriteFile(f, []byte("not a database"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var opened, released atomic.Int32
	open := func(path string, role Role, snapshots string) (*database, error) {
		if path == badASN {
			time.Sleep(50 * time.Millisecond) // finishes last, yet is the error named
		}
		d, err := openDatabase(path, role, snapshots)
		if err != nil {
			return nil, err
		}
		opened.Add(1)
		unmap := d.unmap
		d.unmap = func() error { released.Add(1); return unmap() }
		return d, nil
	}
	_, err := New(Options{
		City: []string{p.City, p.DBIPCityV4}, ASN: []string{badASN}, Anonymous: []string{badAnon, p.Anonymous},
		Logger: discard, open: open,
	})
	if err == nil || !strings.Contains(err.Error(), badASN) {
		t.Fatalf("New: %v, want the error of %s, the first failing file", err, badASN)
	}
	if opened.Load() != 3 || released.Load() != 3 {
		t.Errorf("%d databases opened, %d released; want 3 and 3", opened.Load(), released.Load())
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v: the file exists", err)
	}
}
