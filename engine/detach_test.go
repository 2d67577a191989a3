package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDetachedIsWithoutCancel holds detached to context.WithoutCancel: for
// contexts of every kind, cancelled or not, before and after their
// parents' cancellation, the two answer alike (deadline, Done's nil-ness
// and state, Err, Cause, values), and detached returns ctx itself only
// where ctx can never be cancelled.
func TestDetachedIsWithoutCancel(t *testing.T) {
	type key struct{}
	cause := errors.New("the caller went")
	cases := map[string]func() (context.Context, func()){
		"background": func() (context.Context, func()) { return context.Background(), func() {} },
		"todo":       func() (context.Context, func()) { return context.TODO(), func() {} },
		"value": func() (context.Context, func()) {
			return context.WithValue(context.Background(), key{}, "v"), func() {}
		},
		"cancel": func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "v"))
			return ctx, func() { cancel(cause) }
		},
		"value over cancel": func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return context.WithValue(ctx, key{}, "v"), func() { cancel(cause) }
		},
		"deadline": func() (context.Context, func()) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
			return ctx, cancel
		},
		"value over without cancel": func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return context.WithValue(context.WithoutCancel(ctx), key{}, "v"), func() { cancel(cause) }
		},
	}
	same := func(t *testing.T, got, want context.Context) {
		t.Helper()
		dg, okg := got.Deadline()
		dw, okw := want.Deadline()
		if dg != dw || okg != okw || (got.Done() == nil) != (want.Done() == nil) ||
			!errors.Is(got.Err(), want.Err()) || got.Err() != want.Err() ||
			context.Cause(got) != context.Cause(want) || got.Value(key{}) != want.Value(key{}) {
			t.Errorf("detached: deadline %v %v, done %v, err %v, cause %v, value %v; WithoutCancel: %v %v, %v, %v, %v, %v",
				dg, okg, got.Done(), got.Err(), context.Cause(got), got.Value(key{}),
				dw, okw, want.Done(), want.Err(), context.Cause(want), want.Value(key{}))
		}
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := mk()
			got, want := detached(ctx), context.WithoutCancel(ctx)
			if (got == ctx) != (ctx.Done() == nil) {
				t.Errorf("detached returned ctx itself: %v, for a Done of nil: %v", got == ctx, ctx.Done() == nil)
			}
			same(t, got, want)
			cancel()
			same(t, got, want)
			// A child's cancellation as the store's bound sets it.
			at := time.Now().Add(time.Hour)
			cg, cancelG := context.WithDeadline(got, at)
			cw, cancelW := context.WithDeadline(want, at)
			same(t, cg, cw)
			cancelG()
			cancelW()
			same(t, cg, cw)
		})
	}
}
