package simulator

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// TestBusyOffice: the busy office's staff log in on workday mornings from
// eight NAT addresses of one /24, within 45 minutes of 9:00 local time,
// from their work laptop, some after a typo.
func TestBusyOffice(t *testing.T) {
	c := small(5)
	c.Users, c.BusyOffice, c.Days, c.WarmupDays = 120, 120, 7, 0
	c.Attacks = Attacks{}
	out, err := Generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGen(context.Background(), out.Config)
	if err != nil {
		t.Fatal(err)
	}
	hq := g.p.headquarters(g.hqCity)
	nats := map[netip.Addr]bool{}
	for _, a := range hq.nats {
		nats[a] = true
	}
	zone := g.w.cities[g.hqCity].zone
	var morning, typos, devices int
	users, seen := map[string]bool{}, map[netip.Addr]bool{}
	for _, ln := range out.Lines {
		a := &ln.Attempt
		ip := netip.MustParseAddr(a.IP)
		if ln.Outcome != nil || !nats[ip] {
			continue
		}
		local := a.Time.Add(zone.offset(a.Time))
		if h := float64(local.Hour()) + float64(local.Minute())/60; h < 8.25 || h > 9.75+1.0/60 {
			continue // the rest of the day at the office
		}
		morning++
		users[a.UserID], seen[ip] = true, true
		if a.Result == engine.ResultPasswordBad {
			typos++
		}
		if a.DeviceID != "" {
			devices++
		}
	}
	if len(seen) != busyOfficeNATs || len(users) < 100 {
		t.Errorf("%d NAT addresses and %d users seen in the mornings, want %d and nearly all 120", len(seen), len(users), busyOfficeNATs)
	}
	for a := range seen {
		if netip.PrefixFrom(a, 24).Masked() != netip.PrefixFrom(hq.nats[0], 24).Masked() {
			t.Errorf("NAT address %s outside the office's /24", a)
		}
	}
	if share := float64(typos) / float64(morning); share < 0.01 || share > 0.07 {
		t.Errorf("%d typos in %d morning attempts (%.1f%%), want about 3.4%%", typos, morning, 100*share)
	}
	if devices < morning*9/10 {
		t.Errorf("%d of %d morning attempts carry a device id", devices, morning)
	}
}

// TestCarrierGradeNAT: IPv4 phones on a carrier leave through the /23 at
// the start of the carrier's block, shared by every subscriber.
func TestCarrierGradeNAT(t *testing.T) {
	c := small(2)
	c.Attacks = Attacks{}
	g, err := newGen(context.Background(), c.scaled())
	if err != nil {
		t.Fatal(err)
	}
	r := newRand(1, 99)
	for isp, blocks := range g.p.mobile {
		for _, b := range blocks {
			pr := g.p.blocks[b].prefix
			if !pr.Addr().Is4() {
				continue
			}
			pool := netip.PrefixFrom(pr.Addr(), 23)
			for range 50 {
				if a := g.p.cgnatAddr(r, b); !pool.Contains(a) {
					t.Fatalf("%s: %s outside the pool %s", isp.Org, a, pool)
				}
			}
		}
	}
}

// TestSprayWithoutHistoryEnds: a stream whose accounts are all created at
// its start used to loop forever looking for spraying targets.
func TestSprayWithoutHistoryEnds(t *testing.T) {
	c := small(2)
	c.Users, c.Days, c.WarmupDays = 50, 1, 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Generate(ctx, c); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := Generate(ctx, c); err == nil {
		t.Error("a cancelled generation succeeded")
	}
}
