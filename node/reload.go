package node

import (
	"context"
	"fmt"
)

// within runs f and returns its error, or an error naming what once ctx
// is done first: f then goes on in the background, abandoned. Shutdown
// uses it for what waits on files (reloads, the file watchers), so that a
// file that never answers cannot keep the process from exiting.
func within(ctx context.Context, what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: not done within the shutdown timeout; left behind: %w", what, context.Cause(ctx))
	}
}
