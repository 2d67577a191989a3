package signals

import (
	"github.com/riskgate/riskgate/engine"
)

// AttackWindows exposes the store's sliding-window counts: failures and
// distinct usernames per address, subnet and ASN (credential stuffing,
// brute force from one place), failures per account from all addresses
// (slow distributed brute force), distinct accounts per password (spraying)
// and the tenant's failure rate against its own baseline (stuffing waves).
type AttackWindows struct{}

func (AttackWindows) Name() string { return "attack_windows" }

// surgeFloor keeps the surge ratio finite when the baseline has no failures.
const surgeFloor = 0.01

func (AttackWindows) Compute(in *engine.Input, env *engine.Env) error {
	if !in.StateAvailable {
		return nil
	}
	c := &in.State.Counts
	netWindows(&env.IP.NetWindows, &c.IP)
	netWindows(&env.Subnet.NetWindows, &c.Subnet)
	netWindows(&env.ASN.NetWindows, &c.ASN)
	a := &env.Account
	a.Failures1h, a.Failures24h, a.Failures7d = int(c.AccountFailures[0]), int(c.AccountFailures[1]), int(c.AccountFailures[2])
	p := &env.Password
	p.Accounts1h, p.Accounts24h, p.Accounts7d = int(c.PasswordAccounts[0]), int(c.PasswordAccounts[1]), int(c.PasswordAccounts[2])
	t := &env.Tenant
	t.Attempts10m, t.Failures10m = int(c.TenantAttempts[0]), int(c.TenantFailures[0])
	if c.TenantAttempts[0] > 0 {
		t.FailureRate10m = float64(c.TenantFailures[0]) / float64(c.TenantAttempts[0])
	}
	t.Attempts1h, t.Failures1h = int(c.TenantAttempts[1]), int(c.TenantFailures[1])
	if c.TenantAttempts[1] > 0 {
		t.FailureRate1h = float64(c.TenantFailures[1]) / float64(c.TenantAttempts[1])
	}
	env.IP.Shared = shared(&env.IP.NetWindows)
	env.Subnet.Shared = shared(&env.Subnet.NetWindows)
	if c.TenantAttempts[2] > 0 {
		t.FailureRate24h = float64(c.TenantFailures[2]) / float64(c.TenantAttempts[2])
	}
	// The baseline leaves out the last 10 minutes, so that a wave does not
	// raise its own yardstick.
	baseline := 0.0
	if n := c.TenantAttempts[2] - min(c.TenantAttempts[0], c.TenantAttempts[2]); n > 0 {
		baseline = float64(c.TenantFailures[2]-min(c.TenantFailures[0], c.TenantFailures[2])) / float64(n)
	}
	t.FailureSurge = t.FailureRate10m / max(baseline, surgeFloor)
	return nil
}

// An address is shared (an office's, campus's or carrier's NAT) when many
// accounts used it in a day and few failed: people behind a NAT mistype
// now and then (3 to 7% of logins), a stuffing or spraying bot fails
// nearly every time, and cannot make its failures rare without valid
// passwords for many accounts.
const (
	sharedMinAccounts = 10
	sharedMaxFailures = 0.2 // failures per distinct username
)

func shared(w *engine.NetWindows) bool {
	return w.Usernames24h >= sharedMinAccounts && float64(w.Failures24h) <= sharedMaxFailures*float64(w.Usernames24h)
}

func netWindows(w *engine.NetWindows, c *engine.NetCounts) {
	w.Failures10m, w.Failures1h, w.Failures24h = int(c.Failures[0]), int(c.Failures[1]), int(c.Failures[2])
	w.Usernames10m, w.Usernames1h, w.Usernames24h = int(c.Usernames[0]), int(c.Usernames[1]), int(c.Usernames[2])
}
