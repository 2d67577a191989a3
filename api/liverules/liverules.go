// Package liverules keeps the ruleset in force current while the server
// runs: it reloads the rule files when they change (fsnotify, debounced) or
// when asked (SIGHUP), and takes new rulesets through the admin API. A
// ruleset that does not compile is rejected whole and the one in force
// stays; every load, good or bad, is logged and told to the Observer.
//
// A ruleset put through the API is written to the rule file or folder the
// server loads from, before it is put in force, so that a later file reload
// or a restart keeps it rather than silently reverting it. Without rule
// files (the embedded defaults), or with several paths, there is no single
// place to write it: it is then held in memory only, and Snapshot says so.
package liverules

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/rules"
)

// Origins of a ruleset.
const (
	OriginEmbedded = "embedded"
	OriginFile     = "file"
	OriginAPI      = "api"
)

// Triggers of a load, as metrics and logs name them.
const (
	TriggerStartup = "startup"
	TriggerFile    = "file"
	TriggerSignal  = "signal"
	TriggerAPI     = "api"
)

// Limits on a ruleset put through the API.
const (
	MaxFiles = 64
	// MaxNameLen bounds a rule file's name.
	MaxNameLen = 128
)

// ErrVersionMismatch is returned by Put when if_version is not the version
// in force.
var ErrVersionMismatch = errors.New("rules: version in force differs")

// ErrInvalid is wrapped by errors about the request rather than the rules
// (a bad file name, too many files).
var ErrInvalid = errors.New("rules: invalid request")

// Observer is told about every load. Package metrics implements it.
type Observer interface {
	RulesLoaded(trigger, version string, rules int, changed bool, at time.Time)
	RulesFailed(trigger string, at time.Time)
}

// Snapshot is the ruleset in force and where it came from.
type Snapshot struct {
	Set      *rules.Set
	Sources  []rules.Source
	Origin   string
	LoadedAt time.Time
	// PersistPath is the file or folder Put writes to; empty when a Put is
	// held in memory only.
	PersistPath string
}

// Options configure a Manager.
type Options struct {
	// Paths are the rule files and folders; none means the embedded
	// default ruleset.
	Paths []string
	// Debounce is how long file events must settle before a reload;
	// editors write a file in several steps. Default 250ms.
	Debounce time.Duration
	// NoWatch turns file watching off: Watch returns at once, and only
	// SIGHUP and the API reload.
	NoWatch  bool
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
}

// Manager owns the ruleset in force. It is safe for concurrent use.
type Manager struct {
	holder *rules.Holder
	opts   Options
	log    *slog.Logger

	mu      sync.Mutex // serialises loads, so a reload never reads a half-written Put
	current atomic.Pointer[Snapshot]
}

// New loads the rules (the files, or the embedded default) into holder and
// returns a Manager for them. It fails if the rules do not compile.
func New(holder *rules.Holder, opts Options) (*Manager, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{holder: holder, opts: opts, log: opts.Logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	srcs, origin, err := m.read()
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		m.failed(TriggerStartup, err)
		return nil, fmt.Errorf("rules: %w", err)
	}
	m.install(TriggerStartup, set, srcs, origin)
	return m, nil
}

// Snapshot returns the ruleset in force.
func (m *Manager) Snapshot() *Snapshot { return m.current.Load() }

// PersistPath returns where Put writes: the one rule file or folder, if the
// server loads from exactly one.
func (m *Manager) PersistPath() string {
	if len(m.opts.Paths) == 1 {
		return m.opts.Paths[0]
	}
	return ""
}

// read loads the sources the server is configured with.
func (m *Manager) read() ([]rules.Source, string, error) {
	if len(m.opts.Paths) == 0 {
		return []rules.Source{rules.DefaultSource()}, OriginEmbedded, nil
	}
	srcs, err := rules.LoadFiles(m.opts.Paths...)
	if err != nil {
		return nil, "", err
	}
	return srcs, OriginFile, nil
}

// Reload reads and compiles the rule files again. An unchanged ruleset is
// left in place (changed false); one that does not compile is rejected and
// the error returned, and the ruleset in force stays.
func (m *Manager) Reload(trigger string) (changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.opts.Paths) == 0 {
		// Nothing on disk to reload; keep what the API may have put.
		cur := m.Snapshot()
		if m.opts.Observer != nil {
			m.opts.Observer.RulesLoaded(trigger, cur.Set.Version(), len(cur.Set.Rules()), false, m.opts.Now())
		}
		return false, nil
	}
	srcs, origin, err := m.read()
	if err == nil {
		var set *rules.Set
		if set, err = rules.Compile(srcs...); err == nil {
			return m.install(trigger, set, srcs, origin), nil
		}
	}
	m.failed(trigger, err)
	return false, err
}

// Validate compiles a candidate ruleset without using it. A ruleset that
// does not compile is a *RejectedError.
func (m *Manager) Validate(files []rules.Source) (*rules.Set, error) {
	srcs, index, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		return nil, rejected(err, srcs, index, files)
	}
	return set, nil
}

// Put compiles files and, if they compile (and ifVersion, when set, is the
// version in force), writes them where the rules are loaded from and puts
// them in force. The ruleset in force changes only if everything succeeds.
func (m *Manager) Put(ifVersion string, files []rules.Source) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.Snapshot(); ifVersion != "" && ifVersion != cur.Set.Version() {
		return nil, fmt.Errorf("%w: in force %s, expected %s", ErrVersionMismatch, cur.Set.Version(), ifVersion)
	}
	srcs, index, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		m.failed(TriggerAPI, err)
		return nil, rejected(err, srcs, index, files)
	}
	origin := OriginAPI
	if p := m.PersistPath(); p != "" {
		if err := persist(p, srcs); err != nil {
			m.log.Error("rules put: could not write the rule files; the ruleset in force stays", "path", p, "err", err)
			return nil, err
		}
		origin = OriginFile
	}
	m.install(TriggerAPI, set, srcs, origin)
	return m.Snapshot(), nil
}

// install puts set in force unless it is the one in force already.
func (m *Manager) install(trigger string, set *rules.Set, srcs []rules.Source, origin string) bool {
	now := m.opts.Now()
	cur := m.Snapshot()
	changed := cur == nil || cur.Set.Version() != set.Version()
	if changed {
		m.current.Store(&Snapshot{Set: set, Sources: srcs, Origin: origin, LoadedAt: now, PersistPath: m.PersistPath()})
		m.holder.Swap(set)
		m.log.Info("rules in force", "trigger", trigger, "version", set.Version(), "rules", len(set.Rules()), "origin", origin)
	} else {
		m.log.Debug("rules unchanged", "trigger", trigger, "version", set.Version())
	}
	if m.opts.Observer != nil {
		m.opts.Observer.RulesLoaded(trigger, set.Version(), len(set.Rules()), changed, now)
	}
	return changed
}

func (m *Manager) failed(trigger string, err error) {
	cur := m.Snapshot()
	in := ""
	if cur != nil {
		in = cur.Set.Version()
	}
	m.log.Error("rules rejected; the ruleset in force stays", "trigger", trigger, "in_force", in, "err", err)
	if m.opts.Observer != nil {
		m.opts.Observer.RulesFailed(trigger, m.opts.Now())
	}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$`)

// named checks the names of files put through the API and gives them the
// names they will have on disk, so that a ruleset has the same version
// whether it came through the API or from the files it was written to.
// index maps each returned source's name to its position in files.
func (m *Manager) named(files []rules.Source) (srcs []rules.Source, index map[string]int, err error) {
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: no rule files", ErrInvalid)
	}
	if len(files) > MaxFiles {
		return nil, nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(files), MaxFiles)
	}
	dir, single := "", ""
	if p := m.PersistPath(); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dir = p
		} else {
			single = p
		}
	}
	if single != "" && len(files) != 1 {
		return nil, nil, fmt.Errorf("%w: the rules are loaded from the file %s: put exactly one file", ErrInvalid, single)
	}
	out := make([]rules.Source, len(files))
	index = make(map[string]int, len(files))
	for i, f := range files {
		name := f.Name
		if name == "" && len(files) == 1 {
			name = "rules.yaml"
		}
		if len(name) > MaxNameLen || !namePattern.MatchString(name) || rules.IsTestFile(name) {
			return nil, nil, fmt.Errorf("%w: files[%d].name %.140q: want a file name like rules.yaml (letters, digits, '.', '_', '-'; not *_test.yaml)", ErrInvalid, i, name)
		}
		if len(f.Data) > rules.MaxFileSize {
			return nil, nil, fmt.Errorf("%w: files[%d] %s: larger than %d bytes", ErrInvalid, i, name, rules.MaxFileSize)
		}
		switch {
		case single != "":
			name = single
		case dir != "":
			name = filepath.Join(dir, name)
		}
		if _, dup := index[name]; dup {
			return nil, nil, fmt.Errorf("%w: files[%d].name %q given twice", ErrInvalid, i, f.Name)
		}
		index[name] = i
		out[i] = rules.Source{Name: name, Data: f.Data}
	}
	if dir != "" {
		// rules.LoadFiles reads a folder in name order; match it.
		slices.SortFunc(out, func(a, b rules.Source) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, index, nil
}

// persist writes srcs (already named with their paths) to disk: each file
// atomically (a temporary file renamed over it), then, in a folder, removes
// the rule files the new ruleset no longer has. Rule tests are left alone.
func persist(path string, srcs []rules.Source) error {
	for _, s := range srcs {
		if err := writeAtomic(s.Name, s.Data); err != nil {
			return fmt.Errorf("rules: write %s: %w", s.Name, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	keep := map[string]bool{}
	for _, s := range srcs {
		keep[filepath.Base(s.Name)] = true
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || keep[n] || strings.HasPrefix(n, ".") || rules.IsTestFile(n) || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		if err := os.Remove(filepath.Join(path, n)); err != nil {
			return fmt.Errorf("rules: remove %s: %w", n, err)
		}
	}
	return nil
}

func writeAtomic(name string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(name); err == nil {
		mode = fi.Mode().Perm()
	}
	// A leading dot keeps the temporary file out of folder loads and
	// reloads that race with it.
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// FileError is one problem of a rejected ruleset, split into file and line
// for the APIs.
type FileError struct {
	// Index is the file's position in the request; -1 when unknown.
	Index   int
	File    string
	Line    int // 0 when the problem is not on one line
	Message string
}

// RejectedError is a ruleset that did not compile, with each problem.
type RejectedError struct {
	Problems []FileError
	Err      error // a rules.ErrorList
}

// Error lists the problems with the files named as the request named them.
func (e *RejectedError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "\n")
}

func (e *RejectedError) Unwrap() error { return e.Err }

// rejected splits a compile error into problems. Messages name files as the
// request did, not by the paths on the server they were compiled under.
func rejected(err error, srcs []rules.Source, index map[string]int, files []rules.Source) error {
	var list rules.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	r := &RejectedError{Err: err}
	for _, e := range flatten(list) {
		msg := e.Error()
		fe := FileError{Index: -1, Message: msg}
		// The longest matching name wins: "a.yaml" must not claim the
		// messages of "a.yaml.yaml".
		matched := ""
		for _, s := range srcs {
			rest, ok := strings.CutPrefix(msg, s.Name+":")
			if !ok || len(s.Name) <= len(matched) {
				continue
			}
			matched, fe.File, fe.Line, fe.Message = s.Name, s.Name, 0, msg
			if i, ok := index[s.Name]; ok {
				fe.Index = i
				if name := files[i].Name; name != "" {
					fe.File, fe.Message = name, name+":"+rest
				}
			}
			if j := strings.IndexByte(rest, ':'); j > 0 {
				if n, err := strconv.Atoi(rest[:j]); err == nil {
					fe.Line = n
				}
			}
		}
		r.Problems = append(r.Problems, fe)
	}
	return r
}

// flatten unnests ErrorLists (YAML type errors come as a list inside the
// list).
func flatten(l rules.ErrorList) []error {
	var out []error
	for _, e := range l {
		var inner rules.ErrorList
		if errors.As(e, &inner) {
			out = append(out, flatten(inner)...)
			continue
		}
		out = append(out, e)
	}
	return out
}
