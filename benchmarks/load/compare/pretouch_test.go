package main

import (
	"errors"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/pretouch"
)

func TestPretouchLine(t *testing.T) {
	for _, tc := range []struct {
		d    pretouch.Decision
		want string
	}{
		{pretouch.Decision{Mode: "auto", Fault: 1500 * time.Nanosecond, Populate: 1650 * time.Nanosecond},
			"a page fault 1.5 µs, madvise 1.6 µs a page: start-up pretouch off (RISKGATE_PRETOUCH=auto)"},
		{pretouch.Decision{Mode: "auto", On: true, Fault: 14 * time.Microsecond, Populate: 1200 * time.Nanosecond},
			"a page fault 14.0 µs, madvise 1.2 µs a page: start-up pretouch on (RISKGATE_PRETOUCH=auto)"},
		{pretouch.Decision{Mode: "off"}, "start-up pretouch off (RISKGATE_PRETOUCH=off)"},
		{pretouch.Decision{Mode: "auto", Err: errors.New("invalid argument")}, "start-up pretouch off (RISKGATE_PRETOUCH=auto): invalid argument"},
	} {
		if got := pretouchLine(tc.d); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.d, got, tc.want)
		}
	}
}
