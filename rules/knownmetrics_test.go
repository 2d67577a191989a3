package rules

import (
	"testing"
	"time"
)

// TestReloadSeriesAtStart: every trigger and result of
// riskgate_rules_reloads_total exists at 0 before any load, so that
// increase() counts a first failed reload.
func TestReloadSeriesAtStart(t *testing.T) {
	m := newMetrics()
	want := len(triggers) * len(results)
	if n := len(m.stats().Loads); n != want || want != 12 {
		t.Errorf("%d reload series, want %d (12)", n, want)
	}
	for k, n := range m.stats().Loads {
		if n != 0 {
			t.Errorf("%v at %d before any load", k, n)
		}
	}
	m.failed(TriggerFile, time.Now())
	m.refused()
	s := m.stats()
	if n := len(s.Loads); n != want {
		t.Errorf("a failure added a series: %d", n)
	}
	if s.Loads[LoadKey{TriggerFile, ResultFailure}] != 1 || s.Loads[LoadKey{TriggerAPI, ResultFailure}] != 1 {
		t.Errorf("failures not counted: %v", s.Loads)
	}
}
