package replay

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Records a capture (engine/capture) adds to the replay format. A capture
// is a replay stream whose attempts carry what the live engine saw and
// decided, made privacy-safe: identifiers are keyed hashes, and the
// password is known only by Password, never by its SHA-1.

// CaptureFormat is the version of the capture records below.
const CaptureFormat = 1

// Password is a captured attempt's password: a keyed hash for counting
// distinct accounts per password, and the breach status the live check
// gave. It cannot be looked up in a breach corpus.
type Password struct {
	Key    string `json:"key"`            // 32 hex digits: the password's keyed hash under the capture's secret
	Status string `json:"status"`         // breached, clean or unknown
	Tier   int    `json:"tier,omitempty"` // prevalence tier of a breached password
}

// Facts converts p for engine.ScoreCaptured, checking the key's form (the
// engine checks the rest).
func (p *Password) Facts() (*engine.PasswordFacts, error) {
	f := &engine.PasswordFacts{Status: p.Status, Tier: p.Tier}
	if len(p.Key) != 2*len(f.Key) {
		return nil, &engine.FieldError{Field: "password.key", Msg: fmt.Sprintf("want %d hex digits, got %d characters", 2*len(f.Key), len(p.Key))}
	}
	if _, err := hex.Decode(f.Key[:], []byte(p.Key)); err != nil {
		return nil, &engine.FieldError{Field: "password.key", Msg: "not hexadecimal"}
	}
	return f, nil
}

// Live is what the live engine decided on a captured attempt.
type Live struct {
	Action       engine.Action `json:"action"`
	Score        int           `json:"score"`
	RulesVersion string        `json:"rules_version,omitempty"`
}

// Header opens every capture file.
type Header struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	// KeyID identifies the secret the identifiers are keyed with (a hash
	// of it, not the secret): captures with different key ids do not join
	// (the same user has different keys in each).
	KeyID string `json:"key_id"`
	// Retention is how long the sink keeps capture files, so that a reader
	// knows when this file's lines are erased.
	Retention string `json:"retention,omitempty"`
}

// RulesRecord is a ruleset the live engine scored with, recorded before
// the first attempt it scored in each capture file, so that a backtest's
// baseline can be exactly what ran. Files is empty when the capture sink
// could not get the content (then only the version is known).
type RulesRecord struct {
	Version string      `json:"version"`
	Files   []RulesFile `json:"files,omitempty"`
}

// RulesFile is one rule file of a RulesRecord.
type RulesFile struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// Gap says the capture sink dropped events here (its buffer was full):
// attempts and outcomes are missing, and outcomes may name attempts the
// capture does not hold.
type Gap struct {
	Dropped uint64    `json:"dropped"`
	Time    time.Time `json:"time,omitzero"`
}
