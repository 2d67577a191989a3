package redisbench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestProfileCommandStats scores sequentially and prints what Redis spent
// its time on (INFO commandstats), for the README's breakdown. It runs only
// when RISKGATE_REDIS_PROFILE is set: to 1 for the command statistics, to
// slowlog for the mean time per command (and per function or script) from
// SLOWLOG with its threshold at 0, which costs Redis noticeably more CPU.
// RISKGATE_REDIS_PROFILE_N sets the number of Scores (default 4,000).
func TestProfileCommandStats(t *testing.T) {
	if os.Getenv("RISKGATE_REDIS_PROFILE") == "" {
		t.Skip("set RISKGATE_REDIS_PROFILE=1 to print Redis's command statistics")
	}
	bn := setup(t)
	ctx := context.Background()
	if err := bn.rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n := 4000
	if v, err := strconv.Atoi(os.Getenv("RISKGATE_REDIS_PROFILE_N")); err == nil {
		n = v
	}
	slow := os.Getenv("RISKGATE_REDIS_PROFILE") == "slowlog"
	if slow {
		if err := bn.rdb.ConfigSet(ctx, "slowlog-max-len", strconv.Itoa(50*n)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := bn.rdb.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	cpu0 := bn.serverCPU(t)
	for i := range n {
		a := bn.attempts[i%len(bn.attempts)]
		a.Time = bn.clock()
		if _, err := bn.e.Score(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	cpu := bn.serverCPU(t) - cpu0
	if slow {
		if err := bn.rdb.ConfigSet(ctx, "slowlog-log-slower-than", "-1").Err(); err != nil {
			t.Fatal(err)
		}
		slowlogByCommand(t, bn)
	}
	info, err := bn.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d Scores, Redis CPU %.1f µs per Score", n, float64(cpu.Microseconds())/float64(n))
	for _, line := range strings.Split(info, "\r\n") {
		if strings.HasPrefix(line, "cmdstat_") {
			t.Log(line)
		}
	}
}

// slowlogByCommand groups SLOWLOG entries (with the threshold at 0, every
// command) by command, and by function or script for FCALL and EVALSHA,
// and logs their count and mean duration.
func slowlogByCommand(t *testing.T, bn *bench) {
	ctx := context.Background()
	entries, err := bn.rdb.SlowLogGet(ctx, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	type agg struct {
		n   int
		sum int64
	}
	by := map[string]*agg{}
	for _, e := range entries {
		if len(e.Args) == 0 {
			continue
		}
		k := strings.ToLower(e.Args[0])
		if (k == "evalsha" || k == "fcall") && len(e.Args) > 1 {
			k += " " + e.Args[1]
		}
		a := by[k]
		if a == nil {
			a = &agg{}
			by[k] = a
		}
		a.n++
		a.sum += e.Duration.Microseconds()
	}
	for k, a := range by {
		t.Logf("%-60s %6d calls %7.2f µs/call", k, a.n, float64(a.sum)/float64(a.n))
	}
}
