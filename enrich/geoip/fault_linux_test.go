package geoip

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/internal/filesnap"
)

// TestLookupFaultIsAnError pins the second line of defence: a database
// mapped in place (what openDatabase no longer does) whose file is then
// truncated answers a lookup with an error instead of killing the process.
func TestLookupFaultIsAnError(t *testing.T) {
	p := writeDefault(t)
	f, err := os.Open(p.City)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openBytes(p.City, RoleCity, data, func() error { return unix.Munmap(data) })
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	if err := os.Truncate(p.City, 0); err != nil {
		t.Fatal(err)
	}
	var r Result
	_, err = d.lookup(geoipgen.Tokyo.Addr(), &r, 0)
	var fault *filesnap.Fault
	if !errors.As(err, &fault) {
		t.Fatalf("lookup on a truncated mapping: %v, want a *filesnap.Fault", err)
	}
}
