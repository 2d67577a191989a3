package httpapi

import (
	"encoding/hex"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

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
	Version     string    `json:"version"`
	Origin      string    `json:"origin"`
	LoadedAt    time.Time `json:"loaded_at"`
	PersistPath string    `json:"persist_path,omitempty"`
	// RemovedTests are the rule tests a put removed (PUT's answer only).
	RemovedTests []string       `json:"removed_tests,omitempty"`
	Thresholds   thresholdsJSON `json:"thresholds"`
	Files        []fileJSON     `json:"files"`
	Rules        []ruleJSON     `json:"rules"`
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
	// Locked: no tenant overlay may disable or replace the rule.
	Locked bool `json:"locked,omitempty"`
}

func newRulesetJSON(s *rules.Snapshot) *rulesetJSON {
	th := s.Set.Thresholds()
	out := &rulesetJSON{
		Version: s.Set.Version(), Origin: s.Origin, LoadedAt: s.LoadedAt.UTC(), PersistPath: s.PersistPath, RemovedTests: s.RemovedTests,
		Thresholds: thresholdsJSON{StepUp: th.StepUp, Deny: th.Deny}, Files: []fileJSON{}, Rules: []ruleJSON{},
	}
	for _, src := range s.Sources {
		out.Files = append(out.Files, fileJSON{Name: src.Name, Content: string(src.Data)})
	}
	for _, r := range s.Set.Rules() {
		out.Rules = append(out.Rules, ruleJSON{
			ID: r.ID, Description: r.Description, When: r.When, Action: r.Action, Score: r.Score,
			Mode: r.Mode.String(), Alert: r.Alert, Notify: r.Notify, Tags: r.Tags, File: r.File, Line: r.Line,
			Locked: r.Locked,
		})
	}
	return out
}
