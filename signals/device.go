package signals

import (
	"github.com/riskgate/riskgate/engine"
)

// Device tells whether the device id and the user-agent family were seen
// in the user's completed logins.
type Device struct{}

func (Device) Name() string { return "device" }

func (Device) Compute(in *engine.Input, env *engine.Env) error {
	d := &env.Device
	a := &in.Agent
	d.Family, d.Browser, d.OS, d.Type, d.Bot, d.Version = a.Family, a.Browser, a.OS, a.Type, a.Bot, int(a.Version)
	d.IDPresent = !in.Device.IsZero()
	if !env.User.Known {
		return nil
	}
	p := &in.State.Profile
	d.Devices = len(p.Devices)
	if d.IDPresent {
		d.Known = p.HasDevice(in.Device)
		d.New = !d.Known
	}
	if a.Family != "" && len(p.Agents) > 0 {
		d.FamilyNew = !engine.Has(p.Agents, a.Family)
	}
	if v := p.AgentVersion(a.Family); a.Version != 0 && v > a.Version {
		d.VersionBehind = int(v - a.Version)
	}
	return nil
}
