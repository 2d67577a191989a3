// Package iplist is riskgate's IP intelligence from plain files: named
// CIDR lists (allow lists, deny lists, the corporate VPN), a Tor exit list,
// and hosting/datacenter autonomous systems (a built-in list plus a file).
// As an engine.Enricher it sets Network.Lists (rules: "corp_vpn" in
// ip.lists), Network.Tor (ip.tor) and Network.HostingASN (asn.hosting,
// ip.hosting); it must run after the GeoIP enricher, whose ASN it reads.
//
// All lists live in one routing table (github.com/gaissmai/bart) whose
// value for each prefix indexes a precomputed, shared []string of the names
// of every list containing that prefix or a prefix covering it, so a
// lookup is one longest-prefix match, stays fast at millions of prefixes
// and does not allocate. Files are reloaded when replaced; a file that
// fails to parse keeps its previous version, and so does one with no entry
// when the loaded version has some (a failed download must not lift a
// deny list or the Tor flags: ErrEmpty), unless it has a "#" comment: a
// file of comments alone empties a list on purpose.
package iplist

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filesnap"
	"github.com/riskgate/riskgate/internal/filewatch"
)

// Options configure an Enricher.
type Options struct {
	// Lists maps a list name (lower-case letters, digits, "_", "-", ".")
	// to its file: one CIDR or address per line, "#" comments.
	Lists map[string]string
	// TorExits is a file of Tor exit addresses in the same format (the Tor
	// Project's bulk exit list is one).
	TorExits string
	// HostingASNs is a file of AS numbers, one per line ("16509" or
	// "AS16509"), added to BuiltinHostingASNs.
	HostingASNs string
	// NoBuiltinHostingASNs leaves BuiltinHostingASNs out.
	NoBuiltinHostingASNs bool
	// Watch reloads a file when it is replaced; Poll and Debounce as in
	// package filewatch.
	Watch          bool
	Poll, Debounce time.Duration
	// OnReload is told about every reload, from the watcher's goroutine.
	OnReload func(ReloadEvent)
	Logger   *slog.Logger

	// watching, when set, is called as the watch's reload of a file
	// starts (false) and ends (true): tests wait on it.
	watching func(end bool)
}

// ReloadEvent describes one reload of a file.
type ReloadEvent struct {
	Path    string
	Name    string // list name; "tor" for the Tor exit list, "hosting-asns" for the ASN file
	Entries int    // prefixes or ASNs in the new version
	Err     error  // nil: in use; else the previous version stays
}

// Stats are the Enricher's counters.
type Stats struct {
	Prefixes       int // in all lists, as loaded
	HostingASNs    int
	Reloads        uint64
	ReloadFailures uint64
	Lists          []List // each configured file's version in use, in configuration order
}

// List describes the version of one configured file in use.
type List struct {
	Kind     string    // KindList, KindTor or KindHostingASNs
	Name     string    // as ReloadEvent.Name
	Path     string    // the file
	Entries  int       // prefixes, or AS numbers for the hosting-ASN file
	Modified time.Time // the file's modification time when this version was read
	// ReloadFailing: the file's last reload failed, none succeeding
	// since; the version listed is the one loaded before.
	ReloadFailing bool
}

// Kinds of List: a list of --ip-list (which may be named like the
// others), the Tor exit list, the hosting-ASN file.
const (
	KindList        = "list"
	KindTor         = "tor"
	KindHostingASNs = "hosting-asns"
)

const (
	maxLists  = 63
	torBit    = 63
	torName   = "tor"
	asnsName  = "hosting-asns"
	kindList  = 0
	kindTor   = 1
	kindASNs  = 2
	maxNameLn = 64
)

var kindNames = [...]string{kindList: KindList, kindTor: KindTor, kindASNs: KindHostingASNs}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// ErrEmpty is the error of a reload that would empty a list: its new
// file has no entry and not even a comment (a failed download, a file
// truncated by a shell redirect) while the loaded version has entries.
var ErrEmpty = errors.New("no entries, not even a comment (a failed download?); a file of comments alone empties the list on purpose")

// source is one configured file and the last version of it that parsed.
type source struct {
	kind    int
	name    string
	path    string
	bit     uint
	asns    asnSet // kindASNs
	entries int
	loaded  bool        // a version is in use (entries is its count)
	file    os.FileInfo // its file's stat when it was read
}

// table is an immutable snapshot of all lists, swapped whole on reload.
type table struct {
	t         bart.Table[uint32] // prefix → index into combos
	combos    []combo
	torLoaded bool
	prefixes  int
}

type combo struct {
	direct uint64   // the lists naming this prefix itself
	names  []string // every list containing it; shared: never modify
	tor    bool
}

// Enricher answers list membership and hosting ASNs. It is safe for
// concurrent use; Enrich does not allocate.
type Enricher struct {
	opts    Options
	log     *slog.Logger
	sources []*source
	byPath  map[string][]*source
	mu      sync.Mutex // serialises reloads
	cur     atomic.Pointer[table]
	hosting atomic.Pointer[asnSet]
	watcher *filewatch.Watcher

	reloads, reloadFailures atomic.Uint64
	lists                   atomic.Pointer[[]List] // Stats.Lists, replaced by each update
	// failing holds, by file, whether its last reload failed, none
	// succeeding since (List.ReloadFailing). Made whole by New.
	failing   map[string]*atomic.Bool
	closeOnce sync.Once
}

// New loads every file, refusing one with a bad line (the error names
// file:line), and starts watching them when asked. With no files it still
// answers hosting ASNs from the built-in list.
func New(opts Options) (*Enricher, error) {
	e := &Enricher{opts: opts, log: opts.Logger, byPath: map[string][]*source{}, failing: map[string]*atomic.Bool{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	if len(opts.Lists) > maxLists {
		return nil, fmt.Errorf("iplist: %d lists configured, at most %d", len(opts.Lists), maxLists)
	}
	names := slices.Sorted(maps.Keys(opts.Lists))
	for i, name := range names {
		if len(name) > maxNameLn || !validName.MatchString(name) {
			return nil, fmt.Errorf("iplist: list name %q: use lower-case letters, digits, '_', '-' and '.', at most %d", name, maxNameLn)
		}
		e.add(&source{kind: kindList, name: name, path: opts.Lists[name], bit: uint(i)})
	}
	if opts.TorExits != "" {
		e.add(&source{kind: kindTor, name: torName, path: opts.TorExits, bit: torBit})
	}
	if opts.HostingASNs != "" {
		e.add(&source{kind: kindASNs, name: asnsName, path: opts.HostingASNs})
	}
	e.cur.Store(&table{combos: []combo{{}}})
	e.rebuildHosting()
	if err := e.update(e.sources); err != nil {
		return nil, err
	}
	if opts.Watch && len(e.byPath) > 0 {
		paths := slices.Sorted(maps.Keys(e.byPath))
		w, err := filewatch.New(paths, e.reloadChanged, filewatch.Options{Poll: opts.Poll, Debounce: opts.Debounce, Logger: e.log,
			Reverted: func(path string) { e.failing[path].Store(false) }, ReportGone: true})
		if err != nil {
			return nil, fmt.Errorf("iplist: watch: %w", err)
		}
		e.watcher = w
	}
	return e, nil
}

func (e *Enricher) add(s *source) {
	e.sources = append(e.sources, s)
	e.byPath[s.path] = append(e.byPath[s.path], s)
	if e.failing[s.path] == nil {
		e.failing[s.path] = new(atomic.Bool)
	}
}

// update rereads the changed sources' files and swaps in a table (and a
// hosting set) built from them and the loaded versions of the others. On
// error nothing changes.
//
// The table itself is the only copy of the lists: each prefix's combo
// keeps the lists that name it directly, so that one list is replaced by
// dropping its bit from every prefix and adding the new file's prefixes.
// A million prefixes then cost one table, not one per list plus one.
func (e *Enricher) update(changed []*source) error {
	counts := map[*source]int{}
	files := map[*source]os.FileInfo{}
	sets := map[*source]asnSet{}
	var drop uint64
	for _, s := range changed {
		if s.kind != kindASNs {
			drop |= 1 << s.bit
		}
	}
	var direct *bart.Table[uint64]
	if drop != 0 {
		direct = new(bart.Table[uint64])
		old := e.cur.Load()
		for p, id := range old.t.All() {
			if m := old.combos[id].direct &^ drop; m != 0 {
				direct.Insert(p, m)
			}
		}
	}
	for _, s := range changed {
		n := 0
		commented := false // a "#" line: an empty file is meant
		comment := func(line string) {
			if !commented {
				commented = strings.HasPrefix(strings.TrimSpace(line), "#")
			}
		}
		var err error
		var fi os.FileInfo
		if s.kind == kindASNs {
			set := asnSet{}
			fi, err = readLines(s.path, func(line string) error {
				asn, ok, err := ParseASN(line)
				if ok {
					set[asn] = struct{}{}
					n++
				} else if err == nil {
					comment(line)
				}
				return err
			})
			sets[s] = set
		} else {
			bit := uint64(1) << s.bit
			or := func(v uint64, _ bool) (uint64, bool) { return v | bit, false }
			var lineNo, masked int
			var first string // the first prefix with host bits set, where
			fi, err = readLines(s.path, func(line string) error {
				lineNo++
				p, hostBits, ok, err := parseLine(line)
				if ok {
					direct.Modify(p, or)
					n++
					if hostBits {
						if masked++; masked == 1 {
							first = fmt.Sprintf("%s:%d: %s read as %s", s.path, lineNo, strings.TrimSpace(strings.SplitN(line, "#", 2)[0]), p)
						}
					}
				} else if err == nil {
					comment(line)
				}
				return err
			})
			if err == nil && masked > 0 {
				// Taken as their network, as documented; but a typo
				// ("/2" for "/24") lists a quarter of the addresses.
				e.log.Warn("ip list: prefixes with host bits set, each read as its network; check the prefix lengths", "list", s.name, "path", s.path, "lines", masked, "first", first)
			}
		}
		if err == nil && n == 0 && !commented && s.loaded && s.entries > 0 {
			err = fmt.Errorf("%s: %w; the %d entries loaded stay", s.path, ErrEmpty, s.entries)
		}
		if err != nil {
			return fmt.Errorf("iplist: %s list: %w", s.name, err)
		}
		counts[s] = n
		files[s] = fi
	}
	for s, n := range counts {
		s.entries, s.loaded, s.file = n, true, files[s]
		if n == 0 {
			e.log.Warn("ip list is empty", "list", s.name, "path", s.path)
		}
		e.log.Info("ip list loaded", "list", s.name, "path", s.path, "entries", n)
	}
	if direct != nil {
		e.cur.Store(e.index(direct))
	}
	if len(sets) > 0 {
		for s, set := range sets {
			s.asns = set
		}
		e.rebuildHosting()
	}
	lists := make([]List, 0, len(e.sources))
	for _, s := range e.sources {
		lists = append(lists, List{Kind: kindNames[s.kind], Name: s.name, Path: s.path, Entries: s.entries, Modified: modTime(s.file)})
	}
	e.lists.Store(&lists)
	return nil
}

// index turns a table of the lists naming each prefix directly into the
// lookup table. Nested prefixes in different lists are resolved here, once:
// each prefix's combo names every list containing it or any prefix
// covering it, so that the longest-prefix match alone answers "which lists
// contain this address".
func (e *Enricher) index(direct *bart.Table[uint64]) *table {
	t := &table{combos: []combo{{}}}
	for _, s := range e.sources {
		t.torLoaded = t.torLoaded || s.kind == kindTor
	}
	type key struct{ direct, all uint64 }
	ids := map[key]uint32{}
	names := map[uint64][]string{} // one shared slice per set of lists
	type frame struct {
		p   netip.Prefix
		all uint64
	}
	var stack []frame
	// AllSorted yields a prefix before the prefixes it covers, and those
	// right after it, so a stack of the covering prefixes carries their
	// lists down.
	for p, m := range direct.AllSorted() {
		for len(stack) > 0 {
			top := stack[len(stack)-1].p
			if top.Bits() <= p.Bits() && top.Contains(p.Addr()) {
				break
			}
			stack = stack[:len(stack)-1]
		}
		all := m
		if len(stack) > 0 {
			all |= stack[len(stack)-1].all
		}
		stack = append(stack, frame{p, all})
		k := key{m, all}
		id, ok := ids[k]
		if !ok {
			id = uint32(len(t.combos))
			ids[k] = id
			n, seen := names[all]
			if !seen {
				n = e.listNames(all)
				names[all] = n
			}
			t.combos = append(t.combos, combo{direct: m, names: n, tor: all&(1<<torBit) != 0})
		}
		t.t.Insert(p, id)
		t.prefixes++
	}
	return t
}

// listNames returns the names of the lists in mask, in name order; nil
// for none.
func (e *Enricher) listNames(mask uint64) []string {
	var out []string
	for _, s := range e.sources { // in name order: bits were given so
		if s.kind == kindList && mask&(1<<s.bit) != 0 {
			out = append(out, s.name)
		}
	}
	return out
}

func (e *Enricher) rebuildHosting() {
	set := asnSet{}
	if !e.opts.NoBuiltinHostingASNs {
		for _, n := range builtinHostingASNs {
			set[n] = struct{}{}
		}
	}
	for _, s := range e.sources {
		for n := range s.asns {
			set[n] = struct{}{}
		}
	}
	e.hosting.Store(&set)
}

// Enrich implements engine.Enricher.
func (e *Enricher) Enrich(addr netip.Addr, en *engine.Enrichment) error {
	n := &en.Network
	t := e.cur.Load()
	if id, ok := t.t.Lookup(addr.Unmap()); ok {
		c := &t.combos[id]
		if c.names != nil {
			n.Lists = c.names
		}
		n.Tor = n.Tor || c.tor
	}
	if t.torLoaded {
		n.AnonymousKnown = true
	}
	if n.ASN != 0 && (*e.hosting.Load()).has(n.ASN) {
		n.HostingASN = true
	}
	return nil
}

// EnrichesAnyAddress implements engine.AnyAddressEnricher: an operator's
// lists name private and reserved ranges too (a corporate VPN in
// 10.0.0.0/8), which the engine asks no GeoIP database about.
func (e *Enricher) EnrichesAnyAddress() bool { return true }

// Lookup returns the lists containing addr (shared: do not modify) and
// whether it is a Tor exit.
func (e *Enricher) Lookup(addr netip.Addr) (lists []string, tor bool) {
	t := e.cur.Load()
	if id, ok := t.t.Lookup(addr.Unmap()); ok {
		return t.combos[id].names, t.combos[id].tor
	}
	return nil, false
}

// HostingASN reports whether asn is on the hosting list.
func (e *Enricher) HostingASN(asn uint32) bool { return (*e.hosting.Load()).has(asn) }

// Reload rereads every file now; the ones that fail keep their version,
// and the watch retries them.
func (e *Enricher) Reload() error {
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(e.byPath)) {
		err := e.reload(p)
		if err != nil && e.watcher != nil {
			e.watcher.Failed(p)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reloadChanged is the watch's reload: path changed since the watch last
// looked. A SIGHUP may have read that version already (sent just after
// the list's update, within the watch's debounce; or while the poll had
// not come), and the watch then read it a second time, and logged and
// counted a second reload. So a path whose stat is the version its lists
// hold (same file, size and time: what the watch compares) is not read
// again, and nothing is logged, unless its last reload failed: a failing
// file is retried as the watch decides.
func (e *Enricher) reloadChanged(path string) error {
	if e.opts.watching != nil {
		e.opts.watching(false)
		defer e.opts.watching(true)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if fi, err := os.Stat(path); err == nil && !e.failing[path].Load() &&
		!slices.ContainsFunc(e.byPath[path], func(s *source) bool { return !s.loaded || !filesnap.SameVersion(s.file, fi) }) {
		return nil
	}
	return e.reloadLocked(path)
}

func (e *Enricher) reload(path string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reloadLocked(path)
}

// reloadLocked rereads path's lists; e.mu is held.
func (e *Enricher) reloadLocked(path string) error {
	srcs := e.byPath[path]
	err := e.update(srcs)
	e.failing[path].Store(err != nil)
	if err != nil {
		e.reloadFailures.Add(1)
		e.log.Error("ip list reload failed; keeping the loaded version", "path", path, "err", err)
	} else {
		e.reloads.Add(1)
	}
	if e.opts.OnReload != nil {
		for _, s := range srcs {
			e.opts.OnReload(ReloadEvent{Path: path, Name: s.name, Entries: s.entries, Err: err})
		}
	}
	return err
}

// Stats returns the counters.
func (e *Enricher) Stats() Stats {
	st := Stats{Prefixes: e.cur.Load().prefixes, HostingASNs: len(*e.hosting.Load()),
		Reloads: e.reloads.Load(), ReloadFailures: e.reloadFailures.Load()}
	if l := e.lists.Load(); l != nil {
		st.Lists = slices.Clone(*l)
		for i := range st.Lists {
			st.Lists[i].ReloadFailing = e.failing[st.Lists[i].Path].Load()
		}
	}
	return st
}

// Names returns the configured list names, sorted.
func (e *Enricher) Names() []string {
	var out []string
	for _, s := range e.sources {
		if s.kind == kindList {
			out = append(out, s.name)
		}
	}
	return out // sources are in name order
}

// Close stops watching. The loaded lists keep answering.
func (e *Enricher) Close() {
	e.closeOnce.Do(func() {
		if e.watcher != nil {
			_ = e.watcher.Close()
		}
	})
}

// modTime is fi's modification time; zero for a list not read yet.
func modTime(fi os.FileInfo) time.Time {
	if fi == nil {
		return time.Time{}
	}
	return fi.ModTime()
}
