package main

import (
	"context"
	"strings"
	"testing"
)

// TestSimulateSharesNamed: a share out of 0 to 1 is refused naming its
// flag, not as the library's nameless "share 2".
func TestSimulateSharesNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "": accepted
	}{
		{[]string{"--breached-users", "2"}, "--breached-users 2: want a share of users from 0 to 1"},
		{[]string{"--vpn-users", "1.5"}, "--vpn-users 1.5: want a share of users from 0 to 1"},
		{[]string{"--new-users", "NaN"}, "--new-users NaN: want a share of users from 0 to 1"},
		{[]string{"--breached-users", "1", "--vpn-users", "0", "--new-users", "0.5"}, ""},
	} {
		_, err := parse(context.Background(), append([]string{"simulate"}, tc.args...))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
