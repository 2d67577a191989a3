package httpapi

import (
	"encoding/hex"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// attemptJSON is engine.Attempt as it arrives: enums and times as strings,
// so that a bad value is reported with its field name (encoding/json does
// not name the field of a failing UnmarshalText). A test keeps its JSON
// names identical to engine.Attempt's.
type attemptJSON struct {
	Tenant       string            `json:"tenant"`
	AttemptID    string            `json:"attempt_id"`
	Time         string            `json:"time"`
	UserID       string            `json:"user_id"`
	Username     string            `json:"username"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent"`
	DeviceID     string            `json:"device_id"`
	PasswordSHA1 string            `json:"password_sha1"`
	Result       string            `json:"result"`
	Geo          *engine.GeoHint   `json:"geo"`
	Channel      string            `json:"channel"`
	Attributes   map[string]string `json:"attributes"`
}

func (j *attemptJSON) attempt(prefix string) (engine.Attempt, error) {
	a := engine.Attempt{
		Tenant: j.Tenant, AttemptID: j.AttemptID, UserID: j.UserID, Username: j.Username, IP: j.IP,
		UserAgent: j.UserAgent, DeviceID: j.DeviceID, PasswordSHA1: j.PasswordSHA1, Geo: j.Geo,
		Channel: j.Channel, Attributes: j.Attributes,
	}
	var err error
	if a.Result, err = engine.ParseResult(j.Result); err != nil {
		return a, &engine.FieldError{Field: prefix + "result", Msg: err.Error()}
	}
	if a.Time, err = parseTime(j.Time, prefix+"time"); err != nil {
		return a, err
	}
	return a, nil
}

func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, &engine.FieldError{Field: field, Msg: "want an RFC 3339 time such as 2026-05-09T11:00:00Z"}
	}
	return t, nil
}

// outcomeJSON is engine.Outcome as it arrives.
type outcomeJSON struct {
	Tenant     string       `json:"tenant"`
	DecisionID string       `json:"decision_id"`
	Attempt    *attemptJSON `json:"attempt"`
	Outcome    string       `json:"outcome"`
	Time       string       `json:"time"`
}

func (j *outcomeJSON) outcome() (engine.Outcome, error) {
	o := engine.Outcome{Tenant: j.Tenant, DecisionID: j.DecisionID}
	if j.Outcome == "" {
		return o, &engine.FieldError{Field: "outcome", Msg: "required: login_succeeded, login_failed, step_up_passed, step_up_failed, confirmed_fraud or confirmed_legit"}
	}
	var err error
	if o.Outcome, err = engine.ParseOutcomeKind(j.Outcome); err != nil {
		return o, &engine.FieldError{Field: "outcome", Msg: err.Error()}
	}
	if j.Attempt != nil {
		a, err := j.Attempt.attempt("attempt.")
		if err != nil {
			return o, err
		}
		o.Attempt = &a
	}
	if o.Time, err = parseTime(j.Time, "time"); err != nil {
		return o, err
	}
	return o, nil
}

// profileJSON is what is held on a user. Device ids are keyed hashes,
// shown in hex; times are RFC 3339.
type profileJSON struct {
	Tenant    string     `json:"tenant"`
	UserID    string     `json:"user_id"`
	Logins    uint32     `json:"logins"`
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	Last      *lastJSON  `json:"last,omitempty"`
	Devices   []seenJSON `json:"devices"`
	Agents    []seenJSON `json:"agents"`
	Countries []seenJSON `json:"countries"`
	Cities    []seenJSON `json:"cities"`
	ASNs      []seenJSON `json:"asns"`
	Networks  []seenJSON `json:"networks"`
	Hours     [24]uint32 `json:"hours"`
}

type seenJSON struct {
	Value string     `json:"value"`
	Count uint32     `json:"count"`
	Last  *time.Time `json:"last,omitempty"`
}

type lastJSON struct {
	Time        *time.Time `json:"time,omitempty"`
	IP          string     `json:"ip,omitempty"`
	Country     string     `json:"country,omitempty"`
	City        string     `json:"city,omitempty"`
	HasLocation bool       `json:"has_location"`
	Lat         float64    `json:"lat,omitempty"`
	Lon         float64    `json:"lon,omitempty"`
	AccuracyKM  float64    `json:"accuracy_km,omitempty"`
}

func unixTime(sec int64) *time.Time {
	if sec == 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

func newProfileJSON(tenant, user string, p *engine.Profile) *profileJSON {
	out := &profileJSON{
		Tenant: tenant, UserID: user, Logins: p.Logins, FirstSeen: unixTime(p.FirstSeen), LastSeen: unixTime(p.LastSeen),
		Devices: seen(p.Devices, true), Agents: seen(p.Agents, false), Countries: seen(p.Countries, false),
		Cities: seen(p.Cities, false), ASNs: seen(p.ASNs, false), Networks: seen(p.Networks, false), Hours: p.Hours,
	}
	if l := &p.Last; l.Time != 0 {
		out.Last = &lastJSON{
			Time: unixTime(l.Time), Country: l.Country, City: l.City, HasLocation: l.HasLocation,
			Lat: l.Lat, Lon: l.Lon, AccuracyKM: l.AccuracyKM,
		}
		if l.IP.IsValid() {
			out.Last.IP = l.IP.String()
		}
	}
	return out
}

func seen(set []engine.Seen, binary bool) []seenJSON {
	out := make([]seenJSON, len(set))
	for i, s := range set {
		v := s.Value
		if binary {
			v = hex.EncodeToString([]byte(v))
		}
		out[i] = seenJSON{Value: v, Count: s.Count, Last: unixTime(s.Last)}
	}
	return out
}

// fileJSON is one rule file.
type fileJSON struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

func sources(fs []fileJSON) []rules.Source {
	out := make([]rules.Source, len(fs))
	for i, f := range fs {
		out[i] = rules.Source{Name: f.Name, Data: []byte(f.Content)}
	}
	return out
}

// rulesetJSON mirrors the Ruleset message of rules.proto.
type rulesetJSON struct {
	Version     string         `json:"version"`
	Origin      string         `json:"origin"`
	LoadedAt    time.Time      `json:"loaded_at"`
	PersistPath string         `json:"persist_path,omitempty"`
	Thresholds  thresholdsJSON `json:"thresholds"`
	Files       []fileJSON     `json:"files"`
	Rules       []ruleJSON     `json:"rules"`
}

type thresholdsJSON struct {
	StepUp int `json:"step_up"`
	Deny   int `json:"deny"`
}

type ruleJSON struct {
	ID          string        `json:"id"`
	Description string        `json:"description"`
	When        string        `json:"when"`
	Action      engine.Action `json:"action"`
	Score       int           `json:"score"`
	Mode        string        `json:"mode"`
	Alert       bool          `json:"alert,omitempty"`
	Notify      string        `json:"notify,omitempty"`
	Tags        []string      `json:"tags,omitempty"`
	File        string        `json:"file"`
	Line        int           `json:"line"`
}

func newRulesetJSON(s *rules.Snapshot) *rulesetJSON {
	th := s.Set.Thresholds()
	out := &rulesetJSON{
		Version: s.Set.Version(), Origin: s.Origin, LoadedAt: s.LoadedAt.UTC(), PersistPath: s.PersistPath,
		Thresholds: thresholdsJSON{StepUp: th.StepUp, Deny: th.Deny}, Files: []fileJSON{}, Rules: []ruleJSON{},
	}
	for _, src := range s.Sources {
		out.Files = append(out.Files, fileJSON{Name: src.Name, Content: string(src.Data)})
	}
	for _, r := range s.Set.Rules() {
		out.Rules = append(out.Rules, ruleJSON{
			ID: r.ID, Description: r.Description, When: r.When, Action: r.Action, Score: r.Score,
			Mode: r.Mode.String(), Alert: r.Alert, Notify: r.Notify, Tags: r.Tags, File: r.File, Line: r.Line,
		})
	}
	return out
}
