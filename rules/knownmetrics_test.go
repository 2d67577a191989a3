package rules

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReloadSeriesAtStart: every trigger and result of
// riskgate_rules_reloads_total exists at 0 before any load, so that
// increase() counts a first failed reload.
func TestReloadSeriesAtStart(t *testing.T) {
	m := newMetrics()
	if n := testutil.CollectAndCount(m.reloads); n != 4*len(reloadResults) {
		t.Errorf("%d reload series, want %d", n, 4*len(reloadResults))
	}
	m.failed(TriggerFile, time.Now())
	m.refused()
	if n := testutil.CollectAndCount(m.reloads); n != 4*len(reloadResults) {
		t.Errorf("a failure added a series: %d", n)
	}
}
