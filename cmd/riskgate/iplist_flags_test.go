package main

import (
	"context"
	"strings"
	"testing"
)

// TestIPListNameGivenOnce: a list named twice (two --ip-list deny=...,
// deny=A;deny=B in RISKGATE_IP_LISTS, the key twice in the file's
// geoip.ip_lists) is an error naming the list and both files, in serve
// and in the commands that take the server's lists (replay). The last
// one given was the list, and the other file was never read: an operator
// who kept a deny list in two files, a feed and a hand-kept one, ran
// with half of it, and the log named only the file loaded.
func TestIPListNameGivenOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "riskgate.yaml", "geoip:\n  ip_lists:\n    deny: feed.txt\n    deny: manual.txt\n")
	for _, c := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"two flags", "", []string{"--ip-list", "deny=feed.txt", "--ip-list", "deny=manual.txt"}, "--ip-list: deny given twice (feed.txt and manual.txt)"},
		{"one flag", "", []string{"--ip-list", "deny=feed.txt;deny=manual.txt"}, "--ip-list: deny given twice (feed.txt and manual.txt)"},
		{"the environment", "deny=feed.txt;vpn=vpn.txt;deny=manual.txt", nil, "deny given twice (feed.txt and manual.txt)"},
		{"the file", "", []string{"--config", cfg}, "riskgate.yaml:4: geoip.ip_lists: deny given twice (first at line 3)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("RISKGATE_IP_LISTS", c.env)
			}
			_, err := parseServeArgs(append([]string{"serve"}, c.args...))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("serve: %v, want %q", err, c.want)
			}
			if c.env != "" || c.args[0] == "--config" {
				return // replay reads neither
			}
			_, err = parse(context.Background(), append([]string{"replay", "-i", dir + "/in.jsonl", "-o", dir + "/out.jsonl"}, c.args...))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("replay: %v, want %q", err, c.want)
			}
		})
	}
	// Two lists, and a flag that replaces the environment's list, load.
	t.Setenv("RISKGATE_IP_LISTS", "deny=env.txt")
	c, err := parseServeArgs([]string{"serve", "--ip-list", "deny=feed.txt", "--ip-list", "vpn=vpn.txt"})
	if err != nil || len(c.GeoIP.IPLists) != 2 || c.GeoIP.IPLists["deny"] != "feed.txt" || c.GeoIP.IPLists["vpn"] != "vpn.txt" {
		t.Errorf("two lists: %v, %v", c, err)
	}
}
