package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// cutShutdownOnSecondSignal makes a second SIGTERM or SIGINT end the
// process at once, exit status 1: the first starts the graceful shutdown
// (main's context), which may take up to --shutdown-delay and twice
// --shutdown-timeout; an operator who will not wait sends another, as with
// most servers. The returned func stops watching.
func cutShutdownOnSecondSignal(log *slog.Logger) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go watchSecondSignal(log, sigs, done, os.Exit)
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// watchSecondSignal calls exit(1) on the second signal received on sigs,
// unless done closes first.
func watchSecondSignal(log *slog.Logger, sigs <-chan os.Signal, done <-chan struct{}, exit func(int)) {
	var first os.Signal
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			if first == nil {
				first = s
				continue
			}
			// The line must not hold up the exit: standard error may be
			// a pipe nobody reads.
			logged := make(chan struct{})
			go func() {
				log.Error("second signal: shutdown cut short (in-flight calls cut, queued alerts and the store's writes behind dropped, uncommitted stream messages delivered again)",
					"signal", s.String(), "first", first.String(), "exit", 1)
				close(logged)
			}()
			select {
			case <-logged:
			case <-time.After(time.Second):
			}
			exit(1)
			return
		}
	}
}
