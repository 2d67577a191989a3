// Package alert turns riskgate decisions into alerts and delivers them.
//
// An alert is a versioned JSON document (schema/alert.v1.json, documented
// in docs/alerts.md) made from a decision that matched a rule with
// `alert: true` or, when configured, from every deny. Its alert_id is
// derived from the tenant and the decision id, so the same decision always
// yields the same alert_id and consumers can drop redeliveries. An alert
// never carries a password hash; usernames appear only as the tenant
// configures (a keyed hash by default).
//
// A Builder makes alerts. A Dispatcher is an engine.Observer that builds
// the alerts of every decision and hands them to Sinks (a JSONL file or
// stdout, a signed webhook, the Kafka alerts topic of package api/stream,
// or structured log lines) through one bounded queue per sink, so that a
// slow or broken sink never blocks scoring: a full queue drops the new
// alert and counts it, failed deliveries are retried with exponential
// back-off and jitter, and Close flushes what is queued within a deadline.
//
// The same dispatcher publishes notification events (Notification, schema
// riskgate.notification.v1, docs/notifications.md) when its builder's
// Notify is enabled: one per completed login whose decision carries
// notification kinds (rules with notify:), at once for a login allowed
// with the right password, and for a step-up when step_up_passed is
// reported (held until then). A notification travels to the sinks as an
// *Alert whose Notification is set, so every sink delivers both.
package alert
