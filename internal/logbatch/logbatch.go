// Package logbatch is the process log's writer: it passes each line
// straight through, except while a caller holds it, when lines gather and
// go out together in one write when the last hold is released. The alert
// log (api/alert's LogSink) holds it over a batch of alerts, so that an
// attack alerting on every attempt costs one system call per batch, not
// one per alert.
package logbatch

import (
	"io"
	"log/slog"
	"sync"
)

// maxHeld bounds what a hold gathers: past it the lines go out at once,
// so that a large batch never holds much memory.
const maxHeld = 64 << 10

// Writer is an io.Writer that can be held. It is safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	holds int
	err   error // the last error of a write of held lines
}

// New returns a Writer writing to w.
func New(w io.Writer) *Writer { return &Writer{w: w} }

// Write implements io.Writer. While the writer is held, p is kept for
// Release (and the write reports success, as a buffered writer does).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.holds == 0 {
		return w.w.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= maxHeld {
		w.flushLocked()
	}
	return len(p), nil
}

// Hold starts gathering lines. Every Hold needs a Release.
func (w *Writer) Hold() {
	w.mu.Lock()
	w.holds++
	w.mu.Unlock()
}

// Release ends a Hold; at the last one the gathered lines are written, in
// one write. It returns the error of any write of held lines since the
// first Hold.
func (w *Writer) Release() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.holds == 0 {
		return nil
	}
	w.holds--
	if w.holds > 0 {
		return nil
	}
	w.flushLocked()
	err := w.err
	w.err = nil
	return err
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Handler returns h, writing to w, with w's Hold and Release: a logger's
// user can find them on its handler (and on those With and WithGroup
// derive from it) without being handed the writer.
func Handler(h slog.Handler, w *Writer) slog.Handler { return &handler{Handler: h, w: w} }

type handler struct {
	slog.Handler
	w *Writer
}

func (h *handler) Hold()          { h.w.Hold() }
func (h *handler) Release() error { return h.w.Release() }

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), w: h.w}
}
