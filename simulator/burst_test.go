package simulator

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestBursts: the crude attacks are what the burst rules look for (ten
// failures from one address in ten minutes, all from one /24; twenty
// failures of one account in an hour), and asking for them changes no
// other line.
func TestBursts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Users, cfg.Days, cfg.WarmupDays = 60, 3, 2
	plain, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Attacks.StuffingBursts, cfg.Attacks.FastBruteForce = 1, 1
	out, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var others []string
	perIP := map[string][]time.Time{}
	nets := map[netip.Prefix]bool{}
	var brute []time.Time
	for _, l := range out.Lines {
		id := l.Attempt.AttemptID
		switch {
		case strings.HasPrefix(id, "stuffing_burst-"):
			perIP[l.Attempt.IP] = append(perIP[l.Attempt.IP], l.Attempt.Time)
			nets[netip.PrefixFrom(netip.MustParseAddr(l.Attempt.IP), 24).Masked()] = true
		case strings.HasPrefix(id, "brute_burst-"):
			brute = append(brute, l.Attempt.Time)
		case l.Outcome == nil:
			others = append(others, l.Attempt.Username+l.Attempt.IP+l.Attempt.Time.String())
		}
	}
	var plainIDs []string
	for _, l := range plain.Lines {
		if l.Outcome == nil {
			plainIDs = append(plainIDs, l.Attempt.Username+l.Attempt.IP+l.Attempt.Time.String())
		}
	}
	if strings.Join(others, "\n") != strings.Join(plainIDs, "\n") {
		t.Error("the crude attacks changed other lines")
	}
	if len(nets) != 1 || len(perIP) < 4 {
		t.Errorf("stuffing burst: %d addresses in %d /24s, want 4 to 8 in one", len(perIP), len(nets))
	}
	for ip, ts := range perIP {
		if len(ts) < 10 || ts[9].Sub(ts[0]) > 10*time.Minute {
			t.Errorf("stuffing burst: %s: %d attempts, not ten in ten minutes", ip, len(ts))
		}
	}
	if len(brute) < 20 && brute[len(brute)-1].Sub(brute[0]) > time.Hour {
		t.Errorf("fast brute force: %d guesses over %v, want twenty in an hour or the password found", len(brute), brute[len(brute)-1].Sub(brute[0]))
	} else if len(brute) >= 20 && brute[19].Sub(brute[0]) > time.Hour {
		t.Errorf("fast brute force: twenty guesses took %v", brute[19].Sub(brute[0]))
	}
}
