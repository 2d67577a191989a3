package memstore

import (
	"bytes"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

func pendingCases() []engine.Pending {
	ip4 := netip.MustParseAddr("198.51.100.7")
	ip6 := netip.MustParseAddr("2001:db8::1")
	full := engine.Pending{
		DecisionID: "01JDECISION0000000000000001", Action: engine.ActionStepUp, Result: engine.ResultPasswordOK,
		Event: engine.Event{Tenant: "acme", Time: time.Unix(1_700_000_000, 123456789), User: fresh(1, "u"), Account: fresh(1, "a"),
			Username: fresh(1, "n"), Password: fresh(1, "p"), AttemptID: fresh(1, "x"), IP: ip4, Subnet: engine.SubnetOf(ip4), ASN: 64500,
			Attempt: true, Failed: true},
		Login: engine.Login{Tenant: "acme", User: fresh(1, "u"), Time: time.Unix(1_700_000_000, 123456789), IP: ip4, Subnet: engine.SubnetOf(ip4),
			Device: fresh(1, "d"), Agent: "chrome/windows", AgentVersion: 131, Country: "FR", City: "Paris", HasLocation: true,
			Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, ASN: 64500},
	}
	v6 := full
	v6.Event.IP, v6.Event.Subnet, v6.Login.IP, v6.Login.Subnet = ip6, engine.SubnetOf(ip6), ip6, engine.SubnetOf(ip6)
	v6.Login.City, v6.Login.Country = "Zürich 🏔", "CH"
	coordsOnly := full // coordinates kept without HasLocation round trip too
	coordsOnly.Login.HasLocation = false
	located := full // a location without coordinates
	located.Login.Lat, located.Login.Lon, located.Login.AccuracyKM = 0, 0, 0
	long := full
	long.DecisionID = string(bytes.Repeat([]byte("d"), 300))
	long.Login.Agent = string(bytes.Repeat([]byte("a"), 5000))
	old := full
	old.Event.Time, old.Login.Time = time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	return []engine.Pending{{}, full, v6, coordsOnly, located, long, old}
}

// TestPendingFormRoundTrip: every field comes back (times as instants),
// and every truncation or extra byte of a form is refused, not misread.
func TestPendingFormRoundTrip(t *testing.T) {
	for i, want := range pendingCases() {
		form := appendPending(nil, 42, &want)
		var got engine.Pending
		if err := decodePending(form, &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !pendingSame(got, want) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, got, want)
		}
		if th, u, ok := pendingOwner(form); !ok || th != 42 || u != want.Login.User {
			t.Errorf("case %d: pendingOwner = %v, %x, %v", i, th, u[:4], ok)
		}
		for n := range len(form) {
			if err := decodePending(form[:n], &got); err == nil {
				t.Fatalf("case %d: a form cut to %d of %d bytes decoded", i, n, len(form))
			}
			if got != (engine.Pending{}) {
				t.Fatalf("case %d: a refused form left %+v", i, got)
			}
		}
		if err := decodePending(append(form, 0), &got); err == nil {
			t.Errorf("case %d: a trailing byte was accepted", i)
		}
	}
}

// pendingSame compares times as instants (a form keeps no location or
// monotonic reading) and coordinates by their bits (a NaN is itself).
func pendingSame(a, b engine.Pending) bool {
	if !a.Event.Time.Equal(b.Event.Time) || !a.Login.Time.Equal(b.Login.Time) {
		return false
	}
	for _, f := range [...][2]float64{{a.Login.Lat, b.Login.Lat}, {a.Login.Lon, b.Login.Lon}, {a.Login.AccuracyKM, b.Login.AccuracyKM}} {
		if math.Float64bits(f[0]) != math.Float64bits(f[1]) {
			return false
		}
	}
	a.Event.Time, b.Event.Time, a.Login.Time, b.Login.Time = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.Login.Lat, a.Login.Lon, a.Login.AccuracyKM, b.Login.Lat, b.Login.Lon, b.Login.AccuracyKM = 0, 0, 0, 0, 0, 0
	return a == b
}

// FuzzPendingForm: decoding never panics, and what decodes encodes to a
// form that decodes to the same (the shared decoder takes lengths written
// longer than they need, so bytes may differ).
func FuzzPendingForm(f *testing.F) {
	for _, p := range pendingCases() {
		f.Add(appendPending(nil, 7, &p))
	}
	f.Fuzz(func(t *testing.T, form []byte) {
		var p engine.Pending
		if decodePending(form, &p) != nil {
			return
		}
		th, _, _ := pendingOwner(form)
		again := appendPending(nil, th, &p)
		var q engine.Pending
		if err := decodePending(again, &q); err != nil || !pendingSame(p, q) {
			t.Fatalf("decoded %x to %+v, which encodes to %x: %+v, %v", form, p, again, q, err)
		}
		if th2, _, _ := pendingOwner(again); th2 != th {
			t.Fatalf("tenant hash %x became %x", th, th2)
		}
	})
}
