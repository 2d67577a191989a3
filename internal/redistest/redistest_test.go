package redistest

import (
	"testing"
	"time"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if err := Ping(s.Addr); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Do("CONFIG", "GET", "appendonly"); err != nil || r != "*2" {
		t.Fatalf("CONFIG GET = %q, %v", r, err)
	}
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() || Ping(s.Addr) == nil {
		t.Fatal("server still answers after Kill")
	}
	s.Restart()
	if !s.Running() {
		t.Fatal("not running after Restart")
	}
	if r, err := s.Do("EXISTS", "k"); err != nil || r != ":0" {
		t.Errorf("EXISTS after restart = %q, %v: want the data gone (no persistence)", r, err)
	}
}

func TestPause(t *testing.T) {
	s := Start(t)
	s.Pause()
	done := make(chan error, 1)
	go func() { done <- Ping(s.Addr) }()
	select {
	case err := <-done:
		t.Fatalf("a paused server answered: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.Resume()
	if err := <-done; err != nil {
		t.Fatalf("after Resume: %v", err)
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Binary(r)
	if !r.skipped || r.failed {
		t.Errorf("without %s: skipped %v failed %v, want a skip", RequireEnv, r.skipped, r.failed)
	}
	t.Setenv(RequireEnv, "1")
	r = &recorder{TB: t}
	Binary(r)
	if r.skipped || !r.failed {
		t.Errorf("with %s: skipped %v failed %v, want a failure", RequireEnv, r.skipped, r.failed)
	}
}
