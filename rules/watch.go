package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/riskgate/riskgate/internal/filewatch"
)

// Watch reloads the rules whenever their files change, until ctx is done:
// the files, or the *.yaml files of the folders, each compared by content
// (internal/filewatch, with its polling fallback), so that an edit that
// keeps the file's size and time is seen and a touch reloads nothing.
// Without rule files Watch returns at once.
func (m *Manager) Watch(ctx context.Context) error {
	if len(m.opts.Paths) == 0 && m.opts.TenantsDir == "" {
		return nil
	}
	// ReloadReverted: a rejected edit reverted (a rule file given as a
	// file back to the content in force) is loaded again, as a folder
	// back to its loaded files is: only a load clears the rejection the
	// metrics, /readyz and the tenants' rules report, and a load of
	// rules is cheap.
	opts := filewatch.Options{
		Poll: m.opts.Poll, Debounce: m.opts.Debounce, Content: true, Filter: watchedFile, Logger: m.log,
		Subfolders: m.opts.TenantsDir != "", ReloadReverted: true,
		// A rule file or folder deleted is a reload that fails, as it
		// is at start; a tenant's folder removed is the tenants
		// folder's change, not a failure.
		ReportGone: true,
	}
	regroup := make(chan struct{}, 1)
	signal := func() {
		select {
		case regroup <- struct{}{}:
		default:
		}
	}
	if parent := m.tenantsParent(); parent != "" {
		// A watcher of its own: it also watches the parent's parent
		// (which may be busy, /tmp, /srv), whose events would keep
		// putting off the rule files' debounced reloads.
		pw, err := filewatch.New([]string{parent}, func(string) error {
			// Only a trigger: the reload reports what it finds, and the
			// tenants folder's own path is tried again once it is back.
			_, _ = m.Reload(TriggerFile)
			signal()
			return nil
		}, opts)
		if err != nil {
			return fmt.Errorf("rules watch: %w", err)
		}
		defer pw.Close()
	}
	for {
		tenants := m.tenantWatchPaths()
		paths := append(slices.Clone(m.opts.Paths), tenants...)
		// A tenant's folder is watched from the moment it exists: the
		// tenants folder's identity includes its folders' names, and a
		// reload after which they differ starts the watch again over
		// them. (A folder added then was loaded by that reload, but its
		// later edits were never seen; a folder removed kept its overlay
		// until some other change.)
		w, err := filewatch.New(paths, func(path string) error {
			m.mu.Lock()
			m.watched = path
			err := m.reload(TriggerFile).errFor(m.opts.TenantsDir, path)
			m.watched = ""
			m.mu.Unlock()
			signal()
			return err
		}, opts)
		if err != nil {
			return fmt.Errorf("rules watch: %w", err)
		}
		m.setWatch(w)
		// A change between the last load and this watch would be missed:
		// look once now (nothing changes when nothing did; what fails is
		// told to the watch, which retries it). Then compare the
		// tenants' folders with those watched, as after a watch's
		// reload: a tenants folder back between the listing above and
		// the watch's first look at it (moved back, remounted) is no
		// change to the watch, and its tenants' folders went unwatched,
		// their edits unseen, until a tenant's folder came or went.
		_, _ = m.Reload(TriggerFile)
		signal()
		// Logged once the watch has looked: from here on, a change is
		// the watch's to see.
		m.log.Info("watching rule files", "paths", paths, "debounce", m.opts.Debounce)
	wait:
		for {
			select {
			case <-ctx.Done():
				m.setWatch(nil)
				return w.Close()
			case <-regroup:
				if slices.Equal(m.tenantWatchPaths(), tenants) {
					continue
				}
				m.setWatch(nil)
				if err := w.Close(); err != nil {
					return fmt.Errorf("rules watch: %w", err)
				}
				break wait
			}
		}
	}
}

// setWatch sets the watcher the reloads tell of what fails (nil: none).
func (m *Manager) setWatch(w *filewatch.Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watch = w
}

// tellWatch tells the watch which of its paths a reload found failing:
// the shared files, the tenants folder, a tenant's folder. The watch
// retries a path whose load it saw fail; but a reload also comes from
// SIGHUP, from a watch's first look (at a start, or at a restart over
// the tenants' folders, which knew nothing of what the watch before it
// was retrying), from a put whose write failed, and a reload for one
// path reads them all. A failure found then was never the watch's: back
// to the version it loaded (a bad edit reverted before it looked), or
// never changed for it (a file made unreadable, then readable again),
// the path was no change to it, and the rejection stayed reported
// (riskgate_rules_last_reload_success 0, a tenant stale) until another
// edit. Told, the watch retries it as its own: checked at every
// debounce, backing off, loaded when it changes, back to the version
// loaded too (ReloadReverted). That is the one retry logic;
// the other way, a watch that reloads whatever it looks at while its
// owner reports a rejection, reloads at every event of every path and
// still never looks at a path nothing touches. Under mu.
func (m *Manager) tellWatch(r reloadResult) {
	if m.watch == nil {
		return
	}
	var failed []string
	if r.shared != nil && len(m.opts.Paths) > 0 && !slices.Contains(m.opts.Paths, m.watched) {
		// The shared files load together, and a retry of any of them
		// reloads them all: one path retried is enough. A shared path
		// whose own callback this reload is, failing, is retried already.
		// (Each path told retried on its own: with several --rules
		// files, a deleted one was retried, logged and counted once per
		// file.)
		failed = append(failed, m.opts.Paths[0])
	}
	if r.folder != nil {
		// Its retry reads every tenant's folder too.
		failed = append(failed, m.opts.TenantsDir)
	}
	for name := range r.tenants {
		failed = append(failed, m.tenantDir(name))
	}
	for _, p := range failed {
		m.watch.Failed(p)
	}
}

// watchedFile is a file whose change Watch reloads for: a rule file, or
// the tenants folder's NoOverlaysMarker (put in an emptied folder, it
// removes every overlay at once, not at the watch's next retry).
func watchedFile(name string) bool { return isRuleFile(name) || name == NoOverlaysMarker }

// tenantsParent is the folder the tenants folder is in, which Watch
// watches too (by a watcher of its own), unless it is a shared rules path already: the watch of a
// folder does not report the folder gone (filewatch keeps the version
// loaded), but its parent's identity counts its folders, so that a
// tenants folder moved away or unmounted is a change, and its reload
// reports every overlay in force stale rather than waiting for the next
// one to drop them.
func (m *Manager) tenantsParent() string {
	if m.opts.TenantsDir == "" {
		return ""
	}
	parent := filepath.Dir(filepath.Clean(m.opts.TenantsDir))
	if slices.ContainsFunc(m.opts.Paths, func(p string) bool { return filepath.Clean(p) == parent }) {
		return ""
	}
	return parent
}

// tenantWatchPaths are the folders Watch watches for overlays: the
// tenants folder and each tenant's folder in it.
func (m *Manager) tenantWatchPaths() []string {
	if m.opts.TenantsDir == "" {
		return nil
	}
	paths := []string{m.opts.TenantsDir}
	entries, _ := os.ReadDir(m.opts.TenantsDir)
	var dirs []string
	for _, e := range entries {
		if TenantFolder(m.opts.TenantsDir, e) && ValidTenant(e.Name()) {
			dirs = append(dirs, filepath.Join(m.opts.TenantsDir, e.Name()))
		}
	}
	sort.Strings(dirs)
	return append(paths, dirs...)
}
