package freeport

import (
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// Process starts cmd, a server in another process, and waits up to
// timeout until ready answers 200. The test's cleanup ends it and, when
// the test failed, logs its output under what. A server that exits
// before it is ready fails with its output, marked ErrTaken when it says
// its address was in use: Process is meant to be called from Start.
func Process(t testing.TB, cmd *exec.Cmd, ready, what string, timeout time.Duration) error {
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s:\n%s", what, out.String())
		}
	})
	// A port taken by a server that never answers must not hang the
	// test: each probe has a timeout.
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := hc.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return Taken(fmt.Errorf("%s exited:\n%s", what, out.String()), out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", what, timeout)
		}
	}
}
