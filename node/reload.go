package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// dataFiles are the files of one part (GeoIP databases, IP lists, the
// breached-password filters) and how to re-read them all now.
type dataFiles struct {
	name   string
	reload func() error // logs and counts each file's result itself
}

// reloadData is SIGHUP's part for the data files: every GeoIP database,
// IP, Tor and hosting-ASN list and breached-password filter is re-read
// now, changed or not, as the file watcher would. Each part logs and counts
// every file's reload; a file that fails keeps its loaded version.
func (n *Node) reloadData() error {
	if len(n.dataFiles) == 0 {
		return nil
	}
	start := time.Now()
	var errs []error
	for _, d := range n.dataFiles {
		if err := d.reload(); err != nil {
			if !strings.HasPrefix(err.Error(), d.name+": ") { // the parts' errors mostly name themselves
				err = fmt.Errorf("%s: %w", d.name, err)
			}
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		n.log.Error("SIGHUP: data files re-read; some failed and keep their loaded version", "failed", len(errs), "took", time.Since(start).Round(time.Millisecond), "err", err)
	} else {
		n.log.Info("SIGHUP: data files re-read", "took", time.Since(start).Round(time.Millisecond))
	}
	return err
}

// within runs f and returns its error, or an error naming what once ctx
// is done first: f then goes on in the background, abandoned. Shutdown
// uses it for what waits on files (reloads, the file watchers), so that a
// file that never answers cannot keep the process from exiting.
func within(ctx context.Context, what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: not done within the shutdown timeout; left behind: %w", what, context.Cause(ctx))
	}
}
