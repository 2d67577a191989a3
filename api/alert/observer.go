package alert

import (
	"time"

	"github.com/riskgate/riskgate/engine"
)

// The dispatcher as an engine.Observer: decisions in, their alerts and
// notifications (published, or held for their login's outcome) out.

// Decided builds the decision's alert, if it alerts, and queues it; and,
// when the builder's Notify is enabled, its notification event when the decision completes
// the login (allowed with the right password), or holds that event until
// the outcome that completes it.
func (d *Dispatcher) Decided(a *engine.Attempt, dec *engine.Decision, _ time.Duration) {
	if d.notify != nil && len(dec.Notify) > 0 {
		d.publishNotification(d.notify.decided(d.opts.Builder, a, dec))
	}
	if !d.opts.Builder.Wants(dec) {
		return
	}
	d.Publish(d.opts.Builder.Build(dec))
}

// Reported implements engine.Observer: outcomes raise no alerts, but a
// passed step-up (or a login_succeeded after a score before the password
// check) publishes the notification its decision held.
func (d *Dispatcher) Reported(o *engine.Outcome, _ *engine.Pending) {
	if d.notify != nil {
		d.publishNotification(d.notify.reported(o))
	}
}

// Forgotten implements engine.ForgetObserver: the notifications held for
// the erased user's logins are dropped. Their outcomes can no longer come
// (Forget erased the pending decisions), so they were never to be
// published, and they held the user's address, place and username in
// memory for --alerts-notify-hold-ttl after the erasure, in room that
// other users' held notifications need.
func (d *Dispatcher) Forgotten(tenant, userID string) {
	if d.notify != nil {
		d.notify.forget(tenant, userID)
	}
}

func (d *Dispatcher) publishNotification(n *Notification) {
	if n == nil {
		return
	}
	d.m.notified.Inc()
	d.Publish(n.envelope())
}

// StoreCall implements engine.Observer.
func (d *Dispatcher) StoreCall(string, time.Duration, error) {}

// Failed implements engine.Observer.
func (d *Dispatcher) Failed(string, string, error) {}
