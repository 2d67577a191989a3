package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Kind is what an event line holds.
type Kind uint8

// Kinds of event lines.
const (
	KindAttempt Kind = iota
	KindOutcome
	KindHeader // a capture file's header
	KindRules  // a ruleset the live engine scored with
	KindGap    // events the capture sink dropped
)

// Event is one decoded line of a stream.
type Event struct {
	Line   Line
	LineNo int
	Kind   Kind
	// Ordinal numbers the attempts from 0 in stream order. On an outcome
	// line that names its attempt by attempt_id it is that attempt's
	// ordinal, and Resolved is true.
	Ordinal  uint32
	Resolved bool
	// Unmatched marks an outcome line naming an attempt the stream does
	// not hold (in a capture: dropped by the sink, erased, or in a file
	// that retention already deleted; in a stream cut with tail: before
	// the cut): it is skipped and counted.
	Unmatched bool
	// Captured marks an attempt from a capture: its identifiers are keyed
	// hashes and its password, if any, is Facts. It is scored with
	// engine.Engine.ScoreCaptured.
	Captured bool
}

// DecodeStats count what a Decoder read.
type DecodeStats struct {
	Attempts int `json:"attempts"`
	Outcomes int `json:"outcomes"`
	// Unmatched outcomes named attempts the stream does not hold.
	Unmatched int `json:"unmatched_outcomes,omitempty"`
	// Dropped sums the capture's gap records: events its sink dropped.
	Dropped uint64 `json:"dropped,omitempty"`
	// Files is the number of capture headers read (one per file).
	Files int `json:"capture_files,omitempty"`
	// Backwards counts the attempts dated more than a second before an
	// earlier line's attempt; BackwardsLine is the first one's line. The
	// windows count events by their time, and a replay scores in line
	// order: it decides as live did if live scored them in that order
	// (a capture's lines are), not if the stream was put together out of
	// order (several nodes' captures, files concatenated in the wrong
	// order), where a late event falls out of windows it was in live.
	Backwards     int `json:"backwards,omitempty"`
	BackwardsLine int `json:"backwards_line,omitempty"`
}

// Decoder reads a stream's lines in order, numbering attempts and
// resolving the outcome lines that name an attempt by attempt_id.
type Decoder struct {
	sc       *bufio.Scanner
	loc      locator // nil: the stream is not files read as one
	n        int
	ids      map[string]uint32 // attempt_id -> ordinal
	header   *Header
	captured bool
	latest   time.Time // the latest attempt time so far
	Stats    DecodeStats
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	loc, _ := r.(locator)
	return &Decoder{sc: sc, loc: loc, ids: map[string]uint32{}}
}

// locator is a stream read from several files as one (Open's reader of a
// capture folder): it tells the file of a line of the stream, and the
// line's number in that file.
type locator interface {
	locate(line int) (file string, fileLine int, ok bool)
}

// Where names line n of the stream for a message: "FILE:LINE" when the
// stream is a folder's files read as one, so that a damaged or foreign
// file is named (the stream's line 525 is line 1 of the second file),
// else "line N".
func (d *Decoder) Where(n int) string {
	if d.loc != nil {
		if file, line, ok := d.loc.locate(n); ok {
			return fmt.Sprintf("%s:%d", file, line)
		}
	}
	return fmt.Sprintf("line %d", n)
}

// Header returns the first capture header read, or nil: the stream is not
// a capture (or the reader has not reached its first line yet).
func (d *Decoder) Header() *Header { return d.header }

// Next decodes the next event into ev. It returns io.EOF at the end, and
// errors naming the line: a replay is an experiment, and a silently
// skipped line would bias it.
func (d *Decoder) Next(ev *Event) error {
	for d.sc.Scan() {
		d.n++
		raw := bytes.TrimSpace(d.sc.Bytes())
		if len(raw) == 0 || raw[0] == '#' {
			continue
		}
		*ev = Event{LineNo: d.n}
		if err := d.decode(raw, ev); err != nil {
			if rerr := d.sc.Err(); rerr != nil {
				// The line was cut short by a read that failed (a
				// truncated gzip file): the read's error names the file
				// and says what happened, the JSON's ("unexpected EOF")
				// neither.
				err = rerr
			}
			return inputError{fmt.Errorf("replay: %s: %w", d.Where(d.n), err)}
		}
		return nil
	}
	if err := d.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return inputError{fmt.Errorf("replay: %s: longer than %d bytes", d.Where(d.n+1), MaxLineSize)}
		}
		return inputError{fmt.Errorf("replay: read: %w", err)}
	}
	return io.EOF
}

// ErrBadInput is in every error of Next: the stream itself is at fault (a
// line that does not decode, a file that cannot be read), not the engine
// replaying it.
var ErrBadInput = errors.New("replay: bad input")

type inputError struct{ error }

func (e inputError) Is(target error) bool { return target == ErrBadInput }
func (e inputError) Unwrap() error        { return e.error }

func (d *Decoder) decode(raw []byte, ev *Event) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	ln := &ev.Line
	if err := dec.Decode(ln); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	kinds := 0
	for _, set := range []bool{ln.Outcome != nil, ln.Capture != nil, ln.Rules != nil, ln.Gap != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return errors.New("a line holds one of outcome, capture, rules or gap")
	}
	switch {
	case ln.Capture != nil:
		ev.Kind = KindHeader
		return d.readHeader(ln.Capture)
	case ln.Rules != nil:
		ev.Kind = KindRules
		if ln.Rules.Version == "" {
			return errors.New("rules: version required")
		}
	case ln.Gap != nil:
		ev.Kind = KindGap
		d.Stats.Dropped += ln.Gap.Dropped
	case ln.Outcome != nil:
		ev.Kind = KindOutcome
		d.Stats.Outcomes++
		if id := ln.Outcome.AttemptID; id != "" {
			ord, ok := d.ids[id]
			// An outcome for an attempt the stream does not hold (a
			// capture's first file gone to retention, a stream cut with
			// tail) is skipped and counted, as one that does not apply.
			if ok {
				ev.Ordinal, ev.Resolved = ord, true
			} else {
				ev.Unmatched = true
				d.Stats.Unmatched++
			}
		}
	default:
		ev.Kind = KindAttempt
		if d.Stats.Attempts == math.MaxUint32 {
			return errors.New("more than 4,294,967,295 attempts")
		}
		ev.Ordinal = uint32(d.Stats.Attempts)
		d.Stats.Attempts++
		if ln.AttemptID != "" {
			d.ids[ln.AttemptID] = ev.Ordinal
		}
		ev.Captured = d.captured || ln.Live != nil || ln.Password != nil
		if ln.Time.IsZero() {
			if timeGiven(raw) {
				// 0001-01-01T00:00:00Z, Go's zero time, decodes as no
				// time; it was given, and is out of the engine's range
				// (the scoring API says it in these words).
				return &engine.FieldError{Field: "time", Msg: "year 1 out of range"}
			}
			// The engine would take the wall clock, and two replays of
			// the stream would decide differently.
			return errors.New("time: required: a replay decides each attempt at its own time")
		}
		if err := checkLabel(ln.Label); err != nil {
			return err
		}
		// (A second's leeway: concurrent scorings are captured in the
		// order they finished, a few milliseconds apart.)
		if ln.Time.Before(d.latest.Add(-time.Second)) {
			if d.Stats.Backwards == 0 {
				d.Stats.BackwardsLine = d.n
			}
			d.Stats.Backwards++
		} else if ln.Time.After(d.latest) {
			d.latest = ln.Time
		}
	}
	return nil
}

// timeGiven says whether an attempt line whose time decoded as zero gave
// one (0001-01-01T00:00:00Z) rather than none (absent or null).
func timeGiven(raw []byte) bool {
	var t struct {
		Time json.RawMessage `json:"time"`
	}
	return json.Unmarshal(raw, &t) == nil && len(t.Time) > 0 && string(t.Time) != "null"
}

// jsonError says a type error as the line has it (attributes.a: want a
// JSON string, got JSON number), not as encoding/json does, naming Go types
// (cannot unmarshal number into Go struct field Line.Attempt.attributes of
// type string).
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	want := engine.JSONKind(te.Type)
	// The attempt's fields are the line's own: encoding/json names them
	// through the embedded struct.
	field := strings.TrimPrefix(te.Field, "Attempt.")
	if field == "" {
		return fmt.Errorf("want %s, got JSON %s", want, te.Value)
	}
	return fmt.Errorf("%s: want %s, got JSON %s", field, want, te.Value)
}

// checkLabel refuses a label that a typo made: any label but legit counts
// as an attack, so "Legit" or "legitimate" would have put legitimate
// traffic in the catch rate. Labels are lower-case names, as simulate
// writes them (legit, credential_stuffing, ...).
func checkLabel(l string) error {
	if l == "" || l == LabelLegit {
		return nil
	}
	for i, c := range l {
		if c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("label %q: want legit or an attack's lower-case name (a-z, 0-9, _), such as credential_stuffing", l)
	}
	switch l {
	case "legitimate", "benign", "normal", "good", "ok", "clean", "genuine":
		return fmt.Errorf("label %q: legitimate traffic is labelled legit; any other label counts as an attack", l)
	}
	return nil
}

// ErrOtherSecret is the error of a stream whose capture files were keyed
// under different secrets (the secret was rotated and the folder kept).
var ErrOtherSecret = errors.New("capture: keyed with another secret")

func (d *Decoder) readHeader(h *Header) error {
	if h.Format != CaptureFormat {
		return fmt.Errorf("capture: format %d, this riskgate reads %d", h.Format, CaptureFormat)
	}
	if h.KeyID == "" {
		return errors.New("capture: key_id required")
	}
	if d.header != nil && h.KeyID != d.header.KeyID {
		return fmt.Errorf("%w (key_id %s, earlier files %s): its users would not join theirs", ErrOtherSecret, h.KeyID, d.header.KeyID)
	}
	if d.header == nil {
		d.header = h
	}
	d.captured = true
	d.Stats.Files++
	return nil
}
