// Code generated once from engine.Env; maintained by hand. TestSignalsMirrorEnv checks it.

package grpcapi

import (
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

// signalsBox holds a Signals message and its parts, so that one allocation
// makes them all.
type signalsBox struct {
	signals  pb.Signals
	attempt  pb.AttemptSignals
	user     pb.UserSignals
	device   pb.DeviceSignals
	geo      pb.GeoSignals
	ip       pb.IPSignals
	subnet   pb.SubnetSignals
	asn      pb.ASNSignals
	account  pb.AccountSignals
	password pb.PasswordSignals
	tenant   pb.TenantSignals
	state    pb.StateSignals
	rba      pb.RBASignals
}

// fill converts e into the box's messages and links them.
func (x *signalsBox) fill(e *engine.Env) *pb.Signals {
	x.attempt = pb.AttemptSignals{
		Tenant:     e.Attempt.Tenant,
		UserId:     e.Attempt.UserID,
		Username:   e.Attempt.Username,
		Ip:         e.Attempt.IP,
		UserAgent:  e.Attempt.UserAgent,
		Channel:    e.Attempt.Channel,
		Result:     e.Attempt.Result,
		Failed:     e.Attempt.Failed,
		HasUser:    e.Attempt.HasUser,
		Hour:       int32(e.Attempt.Hour),
		Weekday:    int32(e.Attempt.Weekday),
		Attributes: e.Attempt.Attributes,
	}
	x.user = pb.UserSignals{
		Known:         e.User.Known,
		Logins:        int32(e.User.Logins),
		AgeDays:       e.User.AgeDays,
		DaysSinceLast: e.User.DaysSince,
		HourUnusual:   e.User.HourUnusual,
		HourShare:     e.User.HourShare,
		HoursLearned:  e.User.HoursLearned,
	}
	x.device = pb.DeviceSignals{
		IdPresent: e.Device.IDPresent,
		Known:     e.Device.Known,
		New:       e.Device.New,
		Devices:   int32(e.Device.Devices),
		Family:    e.Device.Family,
		Browser:   e.Device.Browser,
		Os:        e.Device.OS,
		Type:      e.Device.Type,
		Bot:       e.Device.Bot,
		FamilyNew: e.Device.FamilyNew,

		Version:       int32(e.Device.Version),
		VersionBehind: int32(e.Device.VersionBehind),
		Outdated:      int32(e.Device.Outdated),
	}
	x.geo = pb.GeoSignals{
		Known:            e.Geo.Known,
		Source:           e.Geo.Source,
		Country:          e.Geo.Country,
		Subdivision:      e.Geo.Subdivision,
		City:             e.Geo.City,
		Lat:              e.Geo.Lat,
		Lon:              e.Geo.Lon,
		HasCoordinates:   e.Geo.HasCoordinates,
		AccuracyKm:       e.Geo.AccuracyKM,
		NewCountry:       e.Geo.NewCountry,
		NewCity:          e.Geo.NewCity,
		PreviousCountry:  e.Geo.PreviousCountry,
		VelocityKnown:    e.Geo.VelocityKnown,
		DistanceKm:       e.Geo.DistanceKM,
		HoursSinceLast:   e.Geo.HoursSince,
		SpeedKmh:         e.Geo.SpeedKMH,
		ImpossibleTravel: e.Geo.ImpossibleTravel,
		CountryDaysSince: e.Geo.CountryDaysSince,
	}
	x.ip = pb.IPSignals{
		Failures_10M:   int32(e.IP.Failures10m),
		Failures_1H:    int32(e.IP.Failures1h),
		Failures_24H:   int32(e.IP.Failures24h),
		Usernames_10M:  int32(e.IP.Usernames10m),
		Usernames_1H:   int32(e.IP.Usernames1h),
		Usernames_24H:  int32(e.IP.Usernames24h),
		Version:        int32(e.IP.Version),
		Class:          e.IP.Class,
		Public:         e.IP.Public,
		Lists:          e.IP.Lists,
		AnonymousKnown: e.IP.AnonymousKnown,
		Anonymous:      e.IP.Anonymous,
		Vpn:            e.IP.VPN,
		Tor:            e.IP.Tor,
		Proxy:          e.IP.Proxy,
		Hosting:        e.IP.Hosting,
		NewForUser:     e.IP.NewForUser,
		Shared:         e.IP.Shared,
	}
	x.subnet = pb.SubnetSignals{
		Failures_10M:  int32(e.Subnet.Failures10m),
		Failures_1H:   int32(e.Subnet.Failures1h),
		Failures_24H:  int32(e.Subnet.Failures24h),
		Usernames_10M: int32(e.Subnet.Usernames10m),
		Usernames_1H:  int32(e.Subnet.Usernames1h),
		Usernames_24H: int32(e.Subnet.Usernames24h),
		Prefix:        e.Subnet.Prefix,
		Shared:        e.Subnet.Shared,
	}
	x.asn = pb.ASNSignals{
		Failures_10M:  int32(e.ASN.Failures10m),
		Failures_1H:   int32(e.ASN.Failures1h),
		Failures_24H:  int32(e.ASN.Failures24h),
		Usernames_10M: int32(e.ASN.Usernames10m),
		Usernames_1H:  int32(e.ASN.Usernames1h),
		Usernames_24H: int32(e.ASN.Usernames24h),
		Known:         e.ASN.Known,
		Number:        int32(e.ASN.Number),
		Org:           e.ASN.Org,
		Hosting:       e.ASN.Hosting,
		New:           e.ASN.New,
	}
	x.account = pb.AccountSignals{
		Failures_1H:  int32(e.Account.Failures1h),
		Failures_24H: int32(e.Account.Failures24h),
		Failures_7D:  int32(e.Account.Failures7d),
	}
	x.password = pb.PasswordSignals{
		Present:      e.Password.Present,
		Status:       e.Password.Status,
		Breached:     e.Password.Breached,
		Tier:         int32(e.Password.Tier),
		Accounts_1H:  int32(e.Password.Accounts1h),
		Accounts_24H: int32(e.Password.Accounts24h),
		Accounts_7D:  int32(e.Password.Accounts7d),
	}
	x.tenant = pb.TenantSignals{
		Attempts_10M:    int32(e.Tenant.Attempts10m),
		Failures_10M:    int32(e.Tenant.Failures10m),
		FailureRate_10M: e.Tenant.FailureRate10m,
		FailureRate_24H: e.Tenant.FailureRate24h,
		FailureSurge:    e.Tenant.FailureSurge,
		Attempts_1H:     int32(e.Tenant.Attempts1h),
		Failures_1H:     int32(e.Tenant.Failures1h),
		FailureRate_1H:  e.Tenant.FailureRate1h,
	}
	x.state = pb.StateSignals{
		Available: e.State.Available,
	}
	x.rba = pb.RBASignals{
		Available: e.RBA.Available,
		Score:     e.RBA.Score,
		Targeted:  e.RBA.Targeted,
		Asn:       e.RBA.ASN,
		Network:   e.RBA.Network,
		Country:   e.RBA.Country,
		Browser:   e.RBA.Browser,
		Os:        e.RBA.OS,
		Device:    e.RBA.Device,
		Hour:      e.RBA.Hour,
	}
	x.signals = pb.Signals{
		Attempt:  &x.attempt,
		User:     &x.user,
		Device:   &x.device,
		Geo:      &x.geo,
		Ip:       &x.ip,
		Subnet:   &x.subnet,
		Asn:      &x.asn,
		Account:  &x.account,
		Password: &x.password,
		Tenant:   &x.tenant,
		State:    &x.state,
		Rba:      &x.rba,
	}
	return &x.signals
}
