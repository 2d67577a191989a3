package stream

import (
	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/engine"
)

// Partitioner is how riskgate spreads keyed messages over a topic's
// partitions: the Java client's default partitioner for keyed records,
// toPositive(murmur2(key)) % partitions, with murmur2's seed 0x9747b28c.
// librdkafka's "murmur2_random" partitioner (kcat -X
// topic.partitioner=murmur2_random) computes the same, so a Java or
// librdkafka producer that keys attempts by tenant/user sends them to the
// partition where riskgate writes that user's decisions.
var Partitioner kafka.Balancer = kafka.Murmur2Balancer{Consistent: true}

// Partition returns the partition of key among n partitions.
func Partition(key []byte, n int) int {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return Partitioner.Balance(kafka.Message{Key: key}, parts...)
}

// Key is the key of an attempt's messages: "<tenant>/<user>", where the
// user is the attempt's user_id or, when it has none, its username,
// trimmed and lower-cased. Key attempts the same way when you produce
// them: the decisions then keep the attempts' per-user order end to end.
func Key(tenant, user string) []byte {
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	b := make([]byte, 0, len(tenant)+1+len(user))
	b = append(b, tenant...)
	b = append(b, '/')
	return append(b, user...)
}

// decisionKey keys a decision by its tenant and user.
func decisionKey(d *engine.Decision) []byte {
	user := d.Signals.Attempt.UserID
	if user == "" {
		user = d.Signals.Attempt.Username
	}
	return Key(d.Tenant, user)
}

// AlertKey keys an alert by its tenant and user as the alert shows it
// (the user id, else the username or its hash), so that a user's alerts
// stay in order and the key reveals no more than the alert does.
func AlertKey(a *alert.Alert) []byte {
	user := a.User.ID
	if user == "" {
		user = a.User.Username + a.User.UsernameHash
	}
	return Key(a.Tenant, user)
}
