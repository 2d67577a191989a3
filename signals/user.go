package signals

import "github.com/riskgate/riskgate/engine"

// User describes the user's baseline: how much history there is and
// whether the hour of the attempt is usual for them.
type User struct {
	MinHourLogins    int
	UnusualHourShare float64
}

func (User) Name() string { return "user" }

func (s User) Compute(in *engine.Input, env *engine.Env) error {
	st := in.State
	if !in.StateAvailable || !st.HasProfile || st.Profile.Logins == 0 {
		return nil
	}
	p := &st.Profile
	u := &env.User
	u.Known = true
	u.Logins = int(p.Logins)
	now := in.Time.Unix()
	if p.FirstSeen > 0 {
		u.AgeDays = max(0, float64(now-p.FirstSeen)/86400)
	}
	if p.LastSeen > 0 {
		u.DaysSince = max(0, float64(now-p.LastSeen)/86400)
	}
	// Four hours a step, as hourRatio: the loop's counter and branch cost
	// as much as the additions (Go does not unroll).
	var total uint64
	hs := &p.Hours
	for i := 0; i < len(hs); i += 4 {
		total += uint64(hs[i]) + uint64(hs[i+1]) + uint64(hs[i+2]) + uint64(hs[i+3])
	}
	if total == 0 {
		return nil
	}
	h := env.Attempt.Hour
	near := uint64(p.Hours[(h+23)%24]) + uint64(p.Hours[h]) + uint64(p.Hours[(h+1)%24])
	u.HourShare = float64(near) / float64(total)
	u.HoursLearned = total >= uint64(s.MinHourLogins)
	u.HourUnusual = u.HoursLearned && u.HourShare < s.UnusualHourShare
	return nil
}
