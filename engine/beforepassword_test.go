package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// A login scored twice (before the password check, then with its result)
// reports the second decision's outcome: the first, marked BeforePassword,
// must hold nothing, or every two-step login leaves a pending decision
// until it expires.
func TestBeforePasswordHoldsNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		attempt func(last time.Time) engine.Attempt
		action  engine.Action
	}{
		{"allow", func(last time.Time) engine.Attempt {
			a := paris(last.Add(24 * time.Hour))
			a.Result = engine.ResultUnknown
			return a
		}, engine.ActionAllow},
		{"step_up", func(last time.Time) engine.Attempt {
			a := paris(last.Add(48 * time.Hour))
			a.Result, a.DeviceID = engine.ResultUnknown, "new-phone"
			a.Geo = &engine.GeoHint{Country: "JP", Lat: ptr(35.68), Lon: ptr(139.69)}
			return a
		}, engine.ActionStepUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, before := range []bool{false, true} {
				h := newHarness(t, nil)
				a := tc.attempt(h.train(t, 3))
				a.BeforePassword = before
				d := h.score(t, a)
				if d.Action != tc.action {
					t.Fatalf("before_password %v: %s %v, want %s", before, d.Action, ruleIDs(d.Reasons), tc.action)
				}
				if got, want := h.store.Stats().Pending.Entries, map[bool]int{false: 1, true: 0}[before]; got != want {
					t.Errorf("before_password %v: %d pending decisions, want %d", before, got, want)
				}
				o := engine.LoginSucceeded
				if tc.action == engine.ActionStepUp {
					o = engine.StepUpPassed
				}
				err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: o})
				switch {
				case before && !errors.Is(err, engine.ErrUnknownDecision):
					t.Errorf("outcome of a before_password decision: %v, want ErrUnknownDecision", err)
				case !before && err != nil:
					t.Errorf("outcome of a decision scored at one point: %v", err)
				}
				// An analyst's label needs no pending decision.
				if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.ConfirmedLegit}); err != nil {
					t.Errorf("label of a before_password %v decision: %v", before, err)
				}
			}
		})
	}
}

func TestBeforePasswordWantsResultUnknown(t *testing.T) {
	h := newHarness(t, nil)
	for _, r := range []engine.Result{engine.ResultPasswordOK, engine.ResultPasswordBad, engine.ResultNoSuchUser} {
		a := paris(t0)
		a.Result, a.BeforePassword = r, true
		_, err := h.e.Score(context.Background(), a)
		var fe *engine.FieldError
		if !errors.As(err, &fe) || fe.Field != "before_password" || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("before_password with result %s: %v, want a field error naming before_password", r, err)
		}
	}
	if st := h.store.Stats(); st.Accounts.Entries != 0 || st.Windows.Entries != 0 {
		t.Errorf("a refused attempt reached the store: %+v", st)
	}
}

// TestBeforePasswordIsPartOfTheRetry: a Score marked BeforePassword and
// one not marked are different requests under one attempt_id, as a
// different result is. The unmarked one was answered from the retry
// cache (and, on another node, from the store) with the marked decision,
// which holds nothing: its outcome was a 404 and its notification lost.
// Both ways round, the second is refused naming attempt_id and saying
// why, and changes nothing; a retry sent as the first was still gets the
// first decision.
func TestBeforePasswordIsPartOfTheRetry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// second scores on the node that did not score the first, when
		// there are two.
		cache, twoNodes bool
	}{
		{"retry cache", true, false},
		{"store", false, false},
		{"another node", true, true},
	} {
		for _, firstMarked := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/first marked %v", tc.name, firstMarked), func(t *testing.T) {
				store := memstore.New(memstore.Options{})
				t.Cleanup(func() { store.Close(ctx) })
				opts := engine.Options{Store: store, Now: func() time.Time { return t0 }}
				if !tc.cache {
					opts.RetryEntries = -1
				}
				first := enginetest.New(t, opts)
				second := first
				if tc.twoNodes {
					second = enginetest.New(t, opts)
				}
				a := paris(t0)
				a.AttemptID, a.Result, a.BeforePassword = "login-1", engine.ResultUnknown, firstMarked
				d, err := first.Score(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				pending := store.Stats().Pending.Entries
				if want := map[bool]int{true: 0, false: 1}[firstMarked]; pending != want {
					t.Fatalf("%d pending decisions after the first Score, want %d", pending, want)
				}

				// The same attempt under the same id, the mark flipped.
				b := a
				b.BeforePassword = !firstMarked
				_, err = second.Score(ctx, b)
				var fe *engine.FieldError
				if !errors.As(err, &fe) || fe.Field != "attempt_id" || !strings.Contains(fe.Msg, "before_password") {
					t.Fatalf("the mark flipped under one attempt_id: %v, want a field error on attempt_id saying before_password", err)
				}
				if got := store.Stats().Pending.Entries; got != pending {
					t.Errorf("%d pending decisions after the refused Score, want %d", got, pending)
				}

				// A retry as the first was sent: the first decision.
				again, err := second.Score(ctx, a)
				if err != nil || again.DecisionID != d.DecisionID {
					t.Fatalf("a retry: %s, %v; want the first decision %s", again.DecisionID, err, d.DecisionID)
				}
				err = second.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.LoginSucceeded})
				if firstMarked && !errors.Is(err, engine.ErrUnknownDecision) || !firstMarked && err != nil {
					t.Errorf("the outcome of the first decision: %v", err)
				}
				// Another difference is still "a different attempt".
				c := a
				c.IP = "81.2.69.1"
				if _, err := second.Score(ctx, c); err == nil || strings.Contains(err.Error(), "before_password") || !strings.Contains(err.Error(), "different attempt") {
					t.Errorf("another address under the id: %v", err)
				}
			})
		}
	}
}

// TestBeforePasswordAcrossTheUpgrade: nodes of this version and of the
// one before the before_password mark share a store through a rolling
// upgrade, and a retry of a marked Score (a client's retry after a
// timeout, reaching another node) may reach either. The record each kept
// must be the other's: the retry gets the first decision, both ways
// round. With the mark in the record's fingerprint, each refused the
// other's with a 400 on attempt_id.
func TestBeforePasswordAcrossTheUpgrade(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close(ctx) })
	// No retry cache: the retries reach the store, as on another node.
	e := enginetest.New(t, engine.Options{Store: store, Now: func() time.Time { return t0 }, RetryEntries: -1})
	marked := func(id string) engine.Attempt {
		a := paris(t0)
		a.AttemptID, a.Result, a.BeforePassword = id, engine.ResultUnknown, true
		return a
	}

	t.Run("kept by the earlier version", func(t *testing.T) {
		a := marked("login-old")
		fp, id, err := engine.FingerprintBeforeTheMark(e, a)
		if err != nil {
			t.Fatal(err)
		}
		first := engine.Decision{DecisionID: "01KQS3EFM0T35S1JFAAAAAAAAA", AttemptID: a.AttemptID, Tenant: engine.DefaultTenant,
			Time: t0, Action: engine.ActionAllow, Reasons: []engine.Reason{}, RulesVersion: "sha256:0123456789ab"}
		js, err := json.Marshal(&first)
		if err != nil {
			t.Fatal(err)
		}
		observeAttempt(t, store, a, id) // the attempt seen, as before its commit
		rec := &engine.Decided{Tenant: engine.DefaultTenant, AttemptID: id, Record: append(fp[:], js...)}
		if err := store.Commit(ctx, &engine.Commit{Decided: rec}); err != nil {
			t.Fatal(err)
		}
		d, err := e.Score(ctx, a)
		if err != nil || d.DecisionID != first.DecisionID {
			t.Errorf("a retry of a marked Score the earlier version decided: %s, %v; want its decision %s", d.DecisionID, err, first.DecisionID)
		}
	})

	t.Run("read by the earlier version", func(t *testing.T) {
		a := marked("login-new")
		first, err := e.Score(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		fp, id, err := engine.FingerprintBeforeTheMark(e, a)
		if err != nil {
			t.Fatal(err)
		}
		st := observeAttempt(t, store, a, id)
		// What the earlier version checks of a record: its fingerprint,
		// then a decision with an id.
		rec := st.Decided
		var d engine.Decision
		if !st.Replayed || len(rec) <= len(fp) || !bytes.Equal(rec[:len(fp)], fp[:]) {
			t.Fatalf("the record kept for a marked Score (%d bytes, replayed %v) does not begin with the fingerprint the earlier version computes", len(rec), st.Replayed)
		}
		if err := json.Unmarshal(rec[len(fp):], &d); err != nil || d.DecisionID != first.DecisionID {
			t.Errorf("the record kept for a marked Score: decision %q (%v), want %s", d.DecisionID, err, first.DecisionID)
		}
	})
}

// observeAttempt observes a's attempt id (keyed: id) in store, as a node
// of any version does before deciding it, and returns what it read.
func observeAttempt(t *testing.T, store engine.Store, a engine.Attempt, id engine.Key) engine.State {
	t.Helper()
	ev := &engine.Event{Tenant: engine.DefaultTenant, Time: t0, IP: netip.MustParseAddr(a.IP), Attempt: true, AttemptID: id}
	ev.Subnet = engine.SubnetOf(ev.IP)
	var st engine.State
	if err := store.Observe(context.Background(), ev, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
