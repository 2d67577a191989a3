package memstore

// Stats is what the store holds against its bounds, for metrics: a store
// that evicts is one whose bounds are too small for the traffic, or one
// that an attacker is flushing (fresh users to push baselines out, fresh
// addresses to push windows out), and neither may go unseen.
type Stats struct {
	Profiles, Windows, Accounts, Pending, Attempts TableStats
}

// TableStats is one kind of entry: how many are held, how many may be
// (the bound, as the shards divide it), and how many have been evicted to
// make room since the store started (the least recently used; not those
// that expired or were forgotten).
type TableStats struct {
	Entries, Capacity int
	Evicted           uint64
}

// Stats reports the store's tables. It takes each shard's lock in turn.
func (s *Store) Stats() Stats {
	var st Stats
	add := func(ts *TableStats, n, max int, evicted uint64) {
		ts.Entries += n
		ts.Capacity += max
		ts.Evicted += evicted
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		add(&st.Profiles, sh.profiles.n, sh.profiles.max, sh.profiles.evicted)
		add(&st.Windows, sh.windows.n, sh.windows.max, sh.windows.evicted)
		add(&st.Accounts, sh.accounts.n, sh.accounts.max, sh.accounts.evicted)
		add(&st.Pending, sh.pending.Len(), sh.pending.Max(), sh.pending.Evicted())
		sh.mu.Unlock()
	}
	for i := range s.attempts.shards {
		as := &s.attempts.shards[i]
		as.mu.Lock()
		add(&st.Attempts, as.q.Len(), as.q.Max(), as.q.Evicted())
		as.mu.Unlock()
	}
	return st
}
