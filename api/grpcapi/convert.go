package grpcapi

import (
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// attemptFromPB converts an attempt. prefix is the attempt's path in the
// request ("attempt."), for field names in errors; the engine's own
// validation errors get it added by the caller.
func attemptFromPB(p *pb.Attempt, prefix string) (engine.Attempt, error) {
	if p == nil {
		return engine.Attempt{}, &engine.FieldError{Field: trimDot(prefix), Msg: "required"}
	}
	a := engine.Attempt{
		Tenant: p.Tenant, AttemptID: p.AttemptId, UserID: p.UserId, Username: p.Username, IP: p.Ip,
		UserAgent: p.UserAgent, DeviceID: p.DeviceId, PasswordSHA1: p.PasswordSha1, Channel: p.Channel,
		Attributes: p.Attributes,
	}
	if p.Result < pb.Result_RESULT_UNKNOWN || p.Result > pb.Result_RESULT_NO_SUCH_USER {
		return a, &engine.FieldError{Field: prefix + "result", Msg: fmt.Sprintf("unknown value %d", p.Result)}
	}
	a.Result = engine.Result(p.Result)
	if p.Time != nil {
		t, err := wire.TimeFromProto(p.Time, prefix+"time")
		if err != nil {
			return a, err
		}
		a.Time = t
	}
	if g := p.Geo; g != nil {
		a.Geo = &engine.GeoHint{Country: g.Country, Lat: g.Lat, Lon: g.Lon}
	}
	return a, nil
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// decisionBox holds a Decision and its parts, so that converting one costs
// a few allocations rather than twenty.
type decisionBox struct {
	d   pb.Decision
	ts  timestamppb.Timestamp
	sig signalsBox
}

func decisionToPB(d *engine.Decision) *pb.Decision { return new(decisionBox).fill(d) }

// fill converts d into the box's messages and links them.
func (x *decisionBox) fill(d *engine.Decision) *pb.Decision {
	x.ts = timestamppb.Timestamp{Seconds: d.Time.Unix(), Nanos: int32(d.Time.Nanosecond())}
	x.d = pb.Decision{
		DecisionId: d.DecisionID, AttemptId: d.AttemptID, Tenant: d.Tenant, Time: &x.ts,
		Action: pb.Action(d.Action), Score: int32(d.Score), Reasons: reasonsToPB(d.Reasons),
		Shadow: reasonsToPB(d.Shadow), Alert: d.Alert, Signals: x.sig.fill(&d.Signals),
		RulesVersion: d.RulesVersion, Notify: d.Notify,
	}
	return &x.d
}

// decisionToPBNoSignals converts a decision without its signals.
func decisionToPBNoSignals(d *engine.Decision) *pb.Decision {
	x := new(struct {
		d  pb.Decision
		ts timestamppb.Timestamp
	})
	x.ts = timestamppb.Timestamp{Seconds: d.Time.Unix(), Nanos: int32(d.Time.Nanosecond())}
	x.d = pb.Decision{
		DecisionId: d.DecisionID, AttemptId: d.AttemptID, Tenant: d.Tenant, Time: &x.ts,
		Action: pb.Action(d.Action), Score: int32(d.Score), Reasons: reasonsToPB(d.Reasons),
		Shadow: reasonsToPB(d.Shadow), Alert: d.Alert, RulesVersion: d.RulesVersion, Notify: d.Notify,
	}
	return &x.d
}

func reasonsToPB(rs []engine.Reason) []*pb.Reason {
	if len(rs) == 0 {
		return nil
	}
	vals := make([]pb.Reason, len(rs))
	out := make([]*pb.Reason, len(rs))
	for i := range rs {
		r := &rs[i]
		vals[i] = pb.Reason{Rule: r.RuleID, Action: pb.Action(r.Action), Score: int32(r.Score), Message: r.Message, Tags: r.Tags, Alert: r.Alert, Notify: r.Notify}
		out[i] = &vals[i]
	}
	return out
}

func outcomeFromPB(p *pb.ReportRequest) (engine.Outcome, error) {
	o := engine.Outcome{Tenant: p.Tenant, DecisionID: p.DecisionId}
	if p.Outcome < pb.Outcome_OUTCOME_UNSPECIFIED || p.Outcome > pb.Outcome_OUTCOME_CONFIRMED_LEGIT {
		return o, &engine.FieldError{Field: "outcome", Msg: fmt.Sprintf("unknown value %d", p.Outcome)}
	}
	o.Outcome = engine.OutcomeKind(p.Outcome)
	if p.Attempt != nil {
		a, err := attemptFromPB(p.Attempt, "attempt.")
		if err != nil {
			return o, err
		}
		o.Attempt = &a
	}
	if p.Time != nil {
		t, err := wire.TimeFromProto(p.Time, "time")
		if err != nil {
			return o, err
		}
		o.Time = t
	}
	return o, nil
}

func unixPB(sec int64) *timestamppb.Timestamp {
	if sec == 0 {
		return nil
	}
	return &timestamppb.Timestamp{Seconds: sec}
}

// profileToPB converts a profile. Device ids are keyed hashes, shown in hex.
func profileToPB(tenant, user string, p *engine.Profile) *pb.Profile {
	out := &pb.Profile{
		Tenant: tenant, UserId: user, Logins: p.Logins, FirstSeen: unixPB(p.FirstSeen), LastSeen: unixPB(p.LastSeen),
		Devices: seenToPB(p.Devices, true), Agents: seenToPB(p.Agents, false), Countries: seenToPB(p.Countries, false),
		Cities: seenToPB(p.Cities, false), Asns: seenToPB(p.ASNs, false), Networks: seenToPB(p.Networks, false),
		Hours: p.Hours[:],
	}
	l := &p.Last
	if l.Time != 0 {
		out.Last = &pb.LastLogin{
			Time: unixPB(l.Time), Country: l.Country, City: l.City, HasLocation: l.HasLocation,
			Lat: l.Lat, Lon: l.Lon, AccuracyKm: l.AccuracyKM,
		}
		if l.IP.IsValid() {
			out.Last.Ip = l.IP.String()
		}
	}
	return out
}

func seenToPB(set []engine.Seen, binary bool) []*pb.Seen {
	out := make([]*pb.Seen, len(set))
	for i, s := range set {
		v := s.Value
		if binary {
			v = hex.EncodeToString([]byte(v))
		}
		out[i] = &pb.Seen{Value: v, Count: s.Count, Last: unixPB(s.Last)}
	}
	return out
}

func filesFromPB(fs []*pb.RuleFile) []rules.Source {
	out := make([]rules.Source, len(fs))
	for i, f := range fs {
		out[i] = rules.Source{Name: f.GetName(), Data: []byte(f.GetContent())}
	}
	return out
}
