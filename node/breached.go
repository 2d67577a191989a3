package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/signals"
)

// BreachChecker opens the breached-password check a PasswordConfig names,
// for the tools that run engines of their own (rule tests): the bundled
// common-password list and the filter file, reloaded when it changes, or
// none (a nil check). close releases it.
func BreachChecker(p PasswordConfig, log *slog.Logger) (check signals.BreachChecker, close func() error, err error) {
	check, set, err := openBreached(p, 0, log)
	if err != nil || set == nil {
		return check, func() error { return nil }, err
	}
	return check, set.Close, nil
}

// openBreached returns the breach check for the signals and the set of
// filters behind it (nil when there is none). poll is the file watch's
// (0: its default, a minute; negative: notifications only).
func openBreached(p PasswordConfig, poll time.Duration, log *slog.Logger) (signals.BreachChecker, *breached.Set, error) {
	if p.Breached == "none" {
		return nil, nil, nil
	}
	opt := breached.SetOptions{NoBuiltin: p.NoBuiltinBreached, Live: breached.LiveOptions{Logger: log, Poll: poll}}
	if p.Breached != "" {
		opt.Files = []string{p.Breached}
	}
	set, err := breached.OpenSet(opt)
	if err != nil {
		return nil, nil, err
	}
	if set.Empty() {
		log.Warn("breached-password check disabled: --no-builtin-breached without --breached")
		return nil, nil, set.Close()
	}
	return func(h *[20]byte) (bool, int) {
		m := set.Lookup(*h)
		return m.Found, m.Tier
	}, set, nil
}

// openingBreached starts opening the node's breach check in the
// background and returns what waits for it, registers the filters'
// metrics and closing, and returns the check. A filter file is read and
// its checksums verified in full when opened (about a second a
// gigabyte), as the GeoIP databases are: opened side by side, the start
// waits for the slower of the two, not for their sum. The wait must be
// called, even when the start fails meanwhile, so that the filters are
// closed with the node.
func (n *Node) openingBreached(p PasswordConfig, poll time.Duration) (wait func() (signals.BreachChecker, error)) {
	type opened struct {
		check signals.BreachChecker
		set   *breached.Set
		err   error
	}
	done := make(chan opened, 1)
	go func() {
		check, set, err := openBreached(p, poll, n.log)
		done <- opened{check, set, err}
	}()
	return func() (signals.BreachChecker, error) {
		o := <-done
		if o.err != nil || o.set == nil {
			return o.check, o.err
		}
		n.onCloseCtx("breached", func(ctx context.Context) error { return within(ctx, "breached", o.set.Close) })
		n.collect(o.set.Collector())
		n.dataFiles = append(n.dataFiles, dataFiles{"breached", o.set.Reload})
		return o.check, nil
	}
}
