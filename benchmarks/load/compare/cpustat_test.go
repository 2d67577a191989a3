package main

import (
	"math"
	"testing"
)

func TestParseCPULine(t *testing.T) {
	for _, tc := range []struct {
		line        string
		busy, total uint64
		err         bool
	}{
		{line: "cpu  100 5 20 800 50 3 2 10 7 0", busy: 140, total: 990},
		{line: "cpu 1 0 0 0 0 0 0 0", busy: 1, total: 1},
		{line: "cpu0 100 5 20 800 50 3 2 10 0 0", err: true},
		{line: "cpu 100 5 20", err: true},
		{line: "cpu 100 x 20 800 50 3 2 10", err: true},
		{line: "", err: true},
	} {
		got, err := parseCPULine(tc.line)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error, got %+v", tc.line, got)
			}
			continue
		}
		if err != nil || got.busy != tc.busy || got.total != tc.total {
			t.Errorf("%q: got %+v, %v; want busy %d total %d", tc.line, got, err, tc.busy, tc.total)
		}
	}
}

func TestBusySince(t *testing.T) {
	before := cpuTimes{busy: 100, total: 1000}
	if got := (cpuTimes{busy: 190, total: 1200}).busySince(before); math.Abs(got-45) > 1e-9 {
		t.Errorf("busySince = %v, want 45", got)
	}
	if got := before.busySince(before); got != 0 {
		t.Errorf("no time passed: busySince = %v, want 0", got)
	}
}

func TestCPUStatReadsThisMachine(t *testing.T) {
	a, err := cpuStat()
	if err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
	if a.total == 0 || a.busy > a.total {
		t.Errorf("implausible cpu times %+v", a)
	}
}
