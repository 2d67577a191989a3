//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestSimulateInterruptWhileWriting interrupts a simulation once its
// stream is being written: writing a large one takes seconds, and the
// SIGINT was answered with the whole stream and exit status 0. The output
// is a FIFO, so the test knows the writing has begun (it read the first
// bytes) and holds the writer there until the signal is sent.
func TestSimulateInterruptWhileWriting(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	out := filepath.Join(t.TempDir(), "sim.jsonl")
	fifotest.Make(t, out)
	var stderr bytes.Buffer
	// About 35 MB of stream, far more than a pipe holds.
	cmd := exec.CommandContext(ctx, bin, "simulate", "--users", "2000", "--days", "28", "-o", out)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(out) // returns once simulate opens it to write
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := make([]byte, 4096)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatalf("reading the stream: %v\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.Copy(io.Discard, r)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("simulate ignored SIGINT for %s", hangGuard)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "context canceled") {
		t.Fatalf("simulate after SIGINT while writing: %v, %d more bytes written, want exit status 1 and the cancellation\n%s", err, rest, stderr.String())
	}
}
