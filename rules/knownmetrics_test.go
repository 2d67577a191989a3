package rules

import (
	"testing"
	"time"
)

// TestReloadSeriesAtStart: every trigger and result of
// riskgate_rules_reloads_total exists at 0 before any load, and the api
// trigger's rejected, so that increase() counts a first failed reload or
// rejected put; a rejected put is counted as rejected, not as a failure.
func TestReloadSeriesAtStart(t *testing.T) {
	m := newMetrics()
	want := len(triggers)*len(results) + 1
	if n := len(m.stats().Loads); n != want || want != 13 {
		t.Errorf("%d reload series, want %d (13)", n, want)
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
	if s.Loads[LoadKey{TriggerFile, ResultFailure}] != 1 || s.Loads[LoadKey{TriggerAPI, ResultRejected}] != 1 {
		t.Errorf("failures not counted: %v", s.Loads)
	}
	if s.Loads[LoadKey{TriggerAPI, ResultFailure}] != 0 {
		t.Errorf("a rejected put counted as a failure: %v", s.Loads)
	}
}
