package node

import (
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/stream"
)

// TestRedisReadTimeout: the Redis client reads for as long as the stream
// may wait on a call, unless the URL says otherwise; the read timeout is
// left alone without a stream, or with one that waits no longer.
func TestRedisReadTimeout(t *testing.T) {
	on := func(wait time.Duration) stream.Options {
		return stream.Options{Brokers: []string{"k:9092"}, StoreTimeout: wait}
	}
	for _, tc := range []struct {
		name  string
		store string
		kafka stream.Options
		want  time.Duration
	}{
		{"no stream", "redis://h:6379/0", stream.Options{StoreTimeout: 5 * time.Second}, 0},
		{"the stream's default", "redis://h:6379/0", on(time.Second), 0},
		{"a longer wait", "redis://h:6379/0", on(5 * time.Second), 5 * time.Second},
		{"the URL's own", "redis://h:6379/0?read_timeout=2s", on(5 * time.Second), 0},
		{"a cluster URL", "redis+cluster://h1:6379?addr=h2:6379", on(3 * time.Second), 3 * time.Second},
	} {
		n := &Node{cfg: Config{Store: tc.store, Kafka: tc.kafka}}
		if got := n.redisReadTimeout(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
