package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Validate compiles a candidate ruleset without using it. A ruleset that
// does not compile is a *RejectedError.
func (m *Manager) Validate(files []Source) (*Set, error) {
	srcs, names, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := Compile(srcs...)
	if err != nil {
		return nil, rejected(err, names)
	}
	return set, nil
}

// Put compiles files and, if they compile (and ifVersion, when set, is the
// version in force), writes them where the rules are loaded from and puts
// them in force: what is in force is then what is on disk. The ruleset in
// force changes only if everything succeeds. Rule tests (*_test.yaml) of
// the folder that named a rule file the put removes are removed with it,
// and the log says which.
func (m *Manager) Put(ifVersion string, files []Source) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.Snapshot(); ifVersion != "" && ifVersion != cur.Set.Version() {
		return nil, fmt.Errorf("%w: in force %s, expected %s", ErrVersionMismatch, cur.Set.Version(), ifVersion)
	}
	return m.put(files)
}

// put is Put under m.mu, the version checked: the one path every change
// through the API takes (a put, a promotion).
func (m *Manager) put(files []Source) (*Snapshot, error) {
	srcs, names, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := Compile(srcs...)
	if err != nil {
		m.refused("", err)
		return nil, rejected(err, names)
	}
	origin := OriginAPI
	if p := m.PersistPath(); p != "" {
		removed, err := persist(p, srcs)
		if err != nil {
			m.log.Error("rules put: could not write the rule files", "path", p, "err", err)
			// Part of the files may be new: put in force what is on disk
			// now, so that memory and disk agree, if it compiles.
			if rerr := m.reload(TriggerAPI).err(); rerr != nil {
				m.log.Error("rules put: the rule files on disk do not compile; the ruleset in force stays", "path", p, "err", rerr)
			}
			return nil, err
		}
		for _, t := range removed {
			m.log.Warn("rules put: removed a rule test that named a removed rule file", "test", t)
		}
		origin = OriginFile
		m.install(TriggerAPI, set, srcs, origin)
		// The caller is told, not only the log: a put without a name
		// (rules.yaml) in place of default.yaml took default_test.yaml
		// with it without a word in the answer.
		snap := *m.Snapshot()
		for _, t := range removed {
			snap.RemovedTests = append(snap.RemovedTests, filepath.Base(t))
		}
		return &snap, nil
	}
	m.install(TriggerAPI, set, srcs, origin)
	return m.Snapshot(), nil
}

var namePattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$`)

// named checks the names of files put through the API and gives them the
// paths they will have on disk. names maps each path to the file's
// position in the request and the name the caller knows it by, for
// messages.
func (m *Manager) named(files []Source) (srcs []Source, names map[string]requestFile, err error) {
	dir, single := "", ""
	if p := m.PersistPath(); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dir = p
		} else {
			single = p
		}
	}
	return m.namedIn(dir, single, files)
}

// namedIn is named for files to be written to the folder dir or the one
// file single (neither: held in memory).
func (m *Manager) namedIn(dir, single string, files []Source) (srcs []Source, names map[string]requestFile, err error) {
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: no rule files", ErrInvalid)
	}
	if len(files) > MaxFiles {
		return nil, nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(files), MaxFiles)
	}
	if single != "" && len(files) != 1 {
		return nil, nil, fmt.Errorf("%w: the rules are loaded from the file %s: put exactly one file", ErrInvalid, single)
	}
	out := make([]Source, len(files))
	names = make(map[string]requestFile, len(files))
	for i, f := range files {
		name := f.Name
		if name == "" && len(files) == 1 {
			name = "rules.yaml"
		}
		if len(name) > MaxNameLen || !namePattern().MatchString(name) || IsTestFile(name) {
			return nil, nil, fmt.Errorf("%w: files[%d].name %.140q: want a file name like rules.yaml (letters, digits, '.', '_', '-'; not *_test.yaml)", ErrInvalid, i, name)
		}
		if len(f.Data) > MaxFileSize {
			return nil, nil, fmt.Errorf("%w: files[%d] %s: larger than %d bytes", ErrInvalid, i, name, MaxFileSize)
		}
		path := name
		switch {
		case single != "":
			path = single
		case dir != "":
			path = filepath.Join(dir, name)
		}
		if _, dup := names[path]; dup {
			return nil, nil, fmt.Errorf("%w: files[%d].name %q given twice", ErrInvalid, i, f.Name)
		}
		names[path] = requestFile{index: i, name: name}
		out[i] = Source{Name: path, Data: f.Data}
	}
	if dir != "" {
		// LoadFiles reads a folder in name order; match it.
		slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, names, nil
}

// requestFile is a file of a put or validate request.
type requestFile struct {
	index int
	name  string
}

// Problem is one problem of a rejected ruleset, with its file named as the
// request named it.
type Problem struct {
	*Error
	// Index is the file's position in the request; -1 when the problem is
	// not in one of its files.
	Index int
}

// RejectedError is a candidate ruleset that does not compile.
type RejectedError struct {
	Problems []Problem
}

// Error lists the problems, files named as the request named them.
func (e *RejectedError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error.Error()
	}
	return strings.Join(msgs, "\n")
}

// rejected turns a compile error into the request's problems: each Error
// with its file renamed from the path it was compiled under to the name
// the request gave it, in its message too (which may name another of the
// request's files: "first defined at a.yaml:2"), so that no server path
// reaches the caller.
func rejected(err error, names map[string]requestFile) error {
	var list ErrorList
	if !errors.As(err, &list) {
		return err
	}
	pairs := make([]string, 0, 2*len(names))
	for path, f := range names {
		pairs = append(pairs, path, f.name)
	}
	msgs := pathReplacer(pairs...)
	r := &RejectedError{}
	for _, e := range list {
		renamed := *e
		renamed.Err = renamedErr(e.Err, msgs)
		p := Problem{Error: &renamed, Index: -1}
		if f, ok := names[e.File]; ok {
			renamed.File, p.Index = f.name, f.index
		}
		r.Problems = append(r.Problems, p)
	}
	return r
}
