package main

import (
	"testing"

	"github.com/riskgate/riskgate/node"
)

// TestMemoryCapsParse (issue 10 item 9): every memory cap an operator
// sets on the command line or in the config file reaches node.Config (the
// account and password windows' cap was once hard-coded, out of reach of
// any flag); node's TestMemoryCapsReachTheStore follows them on.
func TestMemoryCapsParse(t *testing.T) {
	want := node.MemoryConfig{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6, MaxAttempts: 7, MaxRetries: -1, MaxRetryBytes: 8, UserAgents: 9}
	file := writeFile(t, "riskgate.yaml", `
memory:
  max_users: 1
  max_window_keys: 2
  max_account_keys: 3
  max_pending: 4
  max_distinct: 5
  max_members: 6
  max_attempts: 7
  max_retries: -1
  max_retry_bytes: 8
  user_agents: 9
`)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flags", []string{"--memory-max-users=1", "--memory-max-window-keys=2", "--memory-max-account-keys=3", "--memory-max-pending=4",
			"--memory-max-distinct=5", "--memory-max-members=6", "--memory-max-attempts=7", "--memory-max-retries=-1", "--memory-max-retry-bytes=8", "--memory-user-agents=9"}},
		{"file", []string{"--config", file}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServe(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Memory != want {
				t.Errorf("memory config %+v, want %+v", c.Memory, want)
			}
		})
	}
	c, err := parseServe(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Memory.MaxAccountKeys != 1_000_000 || c.Memory.MaxRetries != 0 || c.Memory.MaxMembers != 4_000_000 {
		t.Errorf("defaults %+v", c.Memory)
	}
}
