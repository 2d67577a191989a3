package breached

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// SetOptions configure OpenSet. The zero value is the embedded
// common-password list alone.
type SetOptions struct {
	// Files are filter files built by Build, each served by a Live
	// (reloaded when the file changes).
	Files []string
	// NoBuiltin leaves out the embedded common-password list, which is
	// otherwise checked beside Files.
	NoBuiltin bool
	// Live configures the files' snapshots, watch and logging.
	Live LiveOptions
}

// Set checks a password against several filters at once: the embedded
// common-password list and the operator's files. A password is breached
// when any of them holds it.
type Set struct {
	builtin *Filter
	files   []*Live
	log     *slog.Logger

	faults      atomic.Uint64
	lastFaultAt atomic.Int64 // unix nanoseconds of the last fault logged
}

// Member describes one filter of a Set.
type Member struct {
	Name string // "builtin" or the file's path
	Info Info
}

// SetStats are a Set's counters.
type SetStats struct {
	Reloads, ReloadFailures uint64 // over every file
	Entries                 uint64 // over every member, duplicates counted once per member
	Faults                  uint64 // lookups that hit a memory fault (answered "not found")
}

// OpenSet opens the configured filters; an error from any of them closes
// the others. A Set with no member (NoBuiltin and no Files) answers "not
// found" to everything: check Empty to skip it.
func OpenSet(opt SetOptions) (*Set, error) {
	if opt.Live.Logger == nil {
		opt.Live.Logger = slog.Default()
	}
	s := &Set{log: opt.Live.Logger}
	if !opt.NoBuiltin {
		f, err := Default()
		if err != nil {
			return nil, err
		}
		s.builtin = f
	}
	for _, path := range opt.Files {
		l, err := OpenLive(path, opt.Live)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, l)
		cur := l.cur.Load()
		info := cur.Info()
		s.log.Info("breached-password filter loaded", "path", path, "kind", info.Kind.String(), "entries", info.Entries, "snapshot", cur.where)
	}
	return s, nil
}

// Empty reports a Set without any filter.
func (s *Set) Empty() bool { return s.builtin == nil && len(s.files) == 0 }

// Lookup checks a password's SHA-1 against every member: Found when any
// holds it, with the highest tier and prevalence bound among those that do.
// A memory fault reading a filter (which the private snapshots should make
// impossible) is counted, logged at most once a minute, and answered as
// "not found" rather than crashing the process.
func (s *Set) Lookup(sha1 [20]byte) Match {
	m, err := s.lookup(sha1)
	if err != nil {
		s.faults.Add(1)
		now := time.Now().UnixNano()
		if last := s.lastFaultAt.Load(); now-last > int64(time.Minute) && s.lastFaultAt.CompareAndSwap(last, now) {
			s.log.Error("breached-password lookup faulted; answering not found", "err", err)
		}
		return Match{}
	}
	return m
}

func (s *Set) lookup(sha1 [20]byte) (m Match, err error) {
	defer filesnap.Recover(&err, debug.SetPanicOnFault(true))
	if s.builtin != nil {
		m = s.builtin.Lookup(sha1)
	}
	for _, l := range s.files {
		mm := l.Lookup(sha1)
		if !mm.Found {
			continue
		}
		m.Found = true
		m.Tier = max(m.Tier, mm.Tier)
		m.MinCount = max(m.MinCount, mm.MinCount)
	}
	return m, nil
}

// Members lists the filters in use: the builtin list first, then the files
// in the order given.
func (s *Set) Members() []Member {
	var out []Member
	if s.builtin != nil {
		out = append(out, Member{Name: "builtin", Info: s.builtin.Info()})
	}
	for _, l := range s.files {
		out = append(out, Member{Name: l.Path(), Info: l.Info()})
	}
	return out
}

// Reload rereads every file now (SIGHUP); each failure keeps that file's
// filter and is logged and counted. The builtin list does not change.
func (s *Set) Reload() error {
	var errs []error
	for _, l := range s.files {
		errs = append(errs, l.Reload())
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (s *Set) Stats() SetStats {
	st := SetStats{Faults: s.faults.Load()}
	for _, m := range s.Members() {
		st.Entries += m.Info.Entries
	}
	for _, l := range s.files {
		ok, failed := l.Reloads()
		st.Reloads += ok
		st.ReloadFailures += failed
	}
	return st
}

// Close stops the file watches and releases every filter.
func (s *Set) Close() error {
	var errs []error
	for _, l := range s.files {
		errs = append(errs, l.Close())
	}
	if s.builtin != nil {
		errs = append(errs, s.builtin.Close())
	}
	s.files, s.builtin = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("breached: close: %w", err)
	}
	return nil
}
