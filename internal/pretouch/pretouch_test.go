package pretouch

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const us = time.Microsecond
	probeErr := errors.New("probe failed")
	for _, tc := range []struct {
		value           string
		fault, populate time.Duration
		err             error
		on, probed      bool
		mode, wantErr   string
		invalid         string
	}{
		{value: "", fault: 15 * us, populate: 1200, on: true, probed: true, mode: "auto"},              // a VM whose faults are dear
		{value: "auto", fault: 1500, populate: 1200, on: false, probed: true, mode: "auto"},            // cheap faults
		{value: "auto", fault: 3600, populate: 1200, on: true, probed: true, mode: "auto"},             // at the ratio
		{value: "auto", fault: 3599, populate: 1200, on: false, probed: true, mode: "auto"},            // just under
		{value: "on", fault: 1500, populate: 1200, on: true, probed: false, mode: "on"},                // no probe
		{value: "off", fault: 15 * us, populate: 1200, on: false, probed: false, mode: "off"},          // no probe
		{value: "auto", err: probeErr, on: false, probed: true, mode: "auto", wantErr: "probe failed"}, // old kernel
		{value: "yes", fault: 15 * us, populate: 1200, on: true, probed: true, mode: "auto", invalid: "yes"},
		{value: "OFF", fault: 1500, populate: 1200, on: false, probed: true, mode: "auto", invalid: "OFF"},
	} {
		probed := false
		d := decide(tc.value, func() (time.Duration, time.Duration, error) {
			probed = true
			return tc.fault, tc.populate, tc.err
		})
		if d.On != tc.on || probed != tc.probed || d.Mode != tc.mode {
			t.Errorf("%q with %v/%v: on %v probed %v mode %q, want %v %v %q", tc.value, tc.fault, tc.populate, d.On, probed, d.Mode, tc.on, tc.probed, tc.mode)
		}
		if d.Invalid != tc.invalid {
			t.Errorf("%q: invalid %q, want %q", tc.value, d.Invalid, tc.invalid)
		}
		if (d.Err == nil) != (tc.wantErr == "") || d.Err != nil && !strings.Contains(d.Err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one containing %q", tc.value, d.Err, tc.wantErr)
		}
		if tc.probed && tc.err == nil && (d.Fault != tc.fault || d.Populate != tc.populate) {
			t.Errorf("%q: the decision carries %v/%v, the probe measured %v/%v", tc.value, d.Fault, d.Populate, tc.fault, tc.populate)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{1000, 2, 3, 1, 4}, 3}, // one interrupted fault does not move it
		{[]time.Duration{4, 3, 2, 1}, 3},
	} {
		if got := median(append([]time.Duration(nil), tc.in...)); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
