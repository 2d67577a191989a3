package stream

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestKnownTopicSeries: the topics configured have their counters at 0
// before any message, and those written a refusal series for every
// reason refusal gives, so that increase() counts the first of each.
func TestKnownTopicSeries(t *testing.T) {
	m := newMetrics()
	m.known([]string{"attempts", ""}, []string{"decisions", "", "dead"})
	if n := testutil.CollectAndCount(m.consumed); n != 3 {
		t.Errorf("%d consumed series, want 3 (a topic each)", n)
	}
	if n := testutil.CollectAndCount(m.refused); n != 2*len(refusalReasons) {
		t.Errorf("%d refused series, want %d", n, 2*len(refusalReasons))
	}
	for _, reason := range refusalReasons {
		if v := testutil.ToFloat64(m.refused.WithLabelValues("dead", reason)); v != 0 {
			t.Errorf("refused dead/%s = %v", reason, v)
		}
	}
	if n := testutil.CollectAndCount(m.refused); n != 2*len(refusalReasons) {
		t.Errorf("refusal reasons are not those refusal gives: %d series after reading them", n)
	}
}
