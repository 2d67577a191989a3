package liverules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the rules whenever something changes in the folders that
// hold them, until ctx is done. It watches folders rather than files
// because editors and Kubernetes ConfigMaps replace a file by renaming
// another over it, which a watch on the file itself would miss. Events are
// debounced; a reload that finds the same ruleset changes nothing.
// Without rule files, or with NoWatch, Watch returns at once.
func (m *Manager) Watch(ctx context.Context) error {
	if len(m.opts.Paths) == 0 || m.opts.NoWatch {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("rules watch: %w", err)
	}
	defer w.Close()
	dirs := map[string]bool{}
	for _, p := range m.opts.Paths {
		dir := p
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			dir = filepath.Dir(p)
		}
		if dirs[dir] {
			continue
		}
		dirs[dir] = true
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("rules watch %s: %w", dir, err)
		}
	}
	m.log.Info("watching rule files", "paths", m.opts.Paths, "debounce", m.opts.Debounce)
	// A change between the load in New and the watch would be missed:
	// look once now (a no-op when nothing changed).
	_, _ = m.Reload(TriggerFile)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			m.log.Debug("rules watch event", "event", ev.String())
			if ev.Op == fsnotify.Chmod {
				continue // touch, permission changes: not new content
			}
			timer.Reset(m.opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflowed event queue loses events, not the watch:
			// reload to be sure.
			m.log.Warn("rules watch", "err", err)
			timer.Reset(m.opts.Debounce)
		case <-timer.C:
			// The error is logged and counted by Reload.
			_, _ = m.Reload(TriggerFile)
		}
	}
}
