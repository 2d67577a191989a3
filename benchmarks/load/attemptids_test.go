package main

import (
	"context"
	"testing"
)

// TestAttemptIDs: -attempt-ids sends every call with an attempt id of its
// own, over both transports, in a body the server accepts (the HTTP body
// is spliced, not re-encoded), and no two runs share ids.
func TestAttemptIDs(t *testing.T) {
	a, b := newAttemptIDs(), newAttemptIDs()
	seen := map[string]bool{}
	for range 1000 {
		id := a.next()
		if seen[id] {
			t.Fatalf("attempt id %q twice", id)
		}
		seen[id] = true
	}
	if id := b.next(); seen[id] {
		t.Errorf("a second run's id %q is the first run's", id)
	}

	addrs := startInProcess(t)
	for _, target := range []string{"grpc", "http"} {
		c := config{target: target, addr: addrs.GRPC, concurrency: 1, conns: 1, users: 10, attemptIDs: true, decode: true}
		if target == "http" {
			c.addr = addrs.HTTP
		}
		pop := newPopulation(c.users)
		call, closeFn, err := newCaller(c, pop)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // the same attempt again: a new id each time, so never a retry
			if err := call(context.Background(), 0); err != nil {
				t.Fatalf("%s call %d: %v", target, i, err)
			}
		}
		closeFn()
	}
	if _, _, err := newCaller(config{target: "grpc", addr: addrs.GRPC, conns: 1, attemptIDs: true}, newPopulation(1)); err == nil {
		t.Error("-attempt-ids without -decode: want an error")
	}
}
