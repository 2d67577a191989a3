package engine

import "context"

// detached is context.WithoutCancel(ctx), without its wrapper where ctx
// can never be cancelled and has no deadline (a Done of nil, as
// context.Background's, or a value context over it): such a ctx already
// answers as the wrapper would (no deadline, a nil Done, Err and Cause
// nil, its values), and the wrapper is an allocation (some 330
// instructions a Score). A cancellable ctx (a gRPC call's) is wrapped.
// The Context contract says a nil Done means never cancelled, so Cause,
// which reports a cancellation, stays nil for it as for the wrapper.
func detached(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		if _, ok := ctx.Deadline(); !ok {
			return ctx
		}
	}
	return context.WithoutCancel(ctx)
}
