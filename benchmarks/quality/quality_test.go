package main

import (
	"context"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/simulator"
)

// TestDetectionQualityFloors is the benchmark in small: 400 users, two
// weeks of history, two measured weeks with every attack, replayed through
// the default rules. The floors sit a few points under what this stream
// measured when they were set (in brackets), so that a rule or signal
// change that breaks detection, or starts challenging ordinary users,
// fails here. A change that moves them on purpose re-measures with
//
//	go run ./benchmarks/quality -users 400 -days 14 -warmup-days 14
//
// and updates the floors and benchmarks/README.md.
func TestDetectionQualityFloors(t *testing.T) {
	cfg := simulator.DefaultConfig()
	cfg.Users, cfg.Days, cfg.WarmupDays = 400, 14, 14
	rep, err := run(context.Background(), options{sim: cfg, geoDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	rep.Markdown(&md)
	t.Log("\n" + md.String())

	floors := []struct {
		label string
		min   float64
	}{
		{simulator.LabelCredentialStuffing, 0.95}, // [98.3%]
		{simulator.LabelPasswordSpray, 0.97},      // [100%]
		{simulator.LabelAccountTakeover, 0.94},    // [100% of 36]
		{simulator.LabelImpossibleTravel, 0.95},   // [100% of 20]
		{simulator.LabelBruteForce, 0.95},         // [99.5%]
	}
	for _, f := range floors {
		if rep.counts(f.label).Total == 0 {
			t.Errorf("%s: no attempts in the stream", f.label)
		} else if got := rep.Stopped(f.label); got < f.min {
			t.Errorf("%s: %.2f%% stopped, floor %.0f%%", f.label, 100*got, 100*f.min)
		}
	}
	if got := rep.Friction(); got > 0.03 { // [2.32%]
		t.Errorf("legitimate logins challenged: %.2f%%, ceiling 3%%", 100*got)
	}
	if got := rep.LegitDenied(); got > 0.001 { // [0%]
		t.Errorf("legitimate logins denied: %.3f%%, ceiling 0.1%%", 100*got)
	}
	for label, min := range map[string]float64{simulator.LabelAccountTakeover: 0.95, simulator.LabelImpossibleTravel: 0.97} { // [0.986, 0.998]
		if got := rep.AUC[label]; got < min {
			t.Errorf("RBA score AUC for %s: %.3f, floor %.2f", label, got, min)
		}
	}
}

func TestAUC(t *testing.T) {
	for _, tt := range []struct {
		legit, attack []float64
		want          float64
	}{
		{[]float64{0, 1}, []float64{2, 3}, 1},
		{[]float64{2, 3}, []float64{0, 1}, 0},
		{[]float64{1}, []float64{1}, 0.5},
		{[]float64{0, 2}, []float64{1, 3}, 0.75},
	} {
		if got := auc(tt.legit, tt.attack); got != tt.want {
			t.Errorf("auc(%v, %v) = %v, want %v", tt.legit, tt.attack, got, tt.want)
		}
	}
}
