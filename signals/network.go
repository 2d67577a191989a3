package signals

import (
	"github.com/riskgate/riskgate/engine"
)

// Network describes the source address: its class, its autonomous system,
// anonymity flags and list membership, and whether the user has logged in
// from its subnet before.
type Network struct{}

func (Network) Name() string { return "network" }

func (Network) Compute(in *engine.Input, env *engine.Env) error {
	n := &in.Enrichment.Network
	ip := &env.IP
	ip.Version = 6
	if in.Addr.Is4() {
		ip.Version = 4
	}
	ip.Class = n.Class.String()
	ip.Public = n.Class == engine.ClassPublic
	ip.Lists = n.Lists
	ip.AnonymousKnown = n.AnonymousKnown
	ip.VPN, ip.Tor, ip.Proxy = n.VPN, n.Tor, n.Proxy
	ip.Hosting = n.Hosting || n.HostingASN
	ip.Anonymous = ip.VPN || ip.Tor || ip.Proxy || ip.Hosting

	as := &env.ASN
	as.Number = int(n.ASN)
	as.Known = n.ASN != 0
	as.Org = n.ASOrg
	as.Hosting = n.HostingASN

	env.Subnet.Prefix = in.SubnetText
	if !env.User.Known {
		return nil
	}
	p := &in.State.Profile
	if as.Known && len(p.ASNs) > 0 {
		as.New = !p.HasASN(n.ASN)
	}
	if len(p.Networks) > 0 && in.SubnetText != "" {
		ip.NewForUser = !engine.Has(p.Networks, in.SubnetText)
	}
	return nil
}
