package alert

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// deafSink's Send never returns until released, whatever its context
// says: a write to a pipe that nobody reads.
type deafSink struct {
	entered chan int
	release chan struct{}
}

func (s *deafSink) Name() string { return "deaf" }

func (s *deafSink) Send(_ context.Context, batch []*Alert) (int, error) {
	select {
	case s.entered <- len(batch):
	default:
	}
	<-s.release
	return len(batch), nil
}

func (s *deafSink) Close(context.Context) error { return nil }

// waitLog waits, at most 10 s, for the log to hold want.
func waitLog(t *testing.T, logs *syncbuf.Buffer, want string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), want); {
		if time.Now().After(end) {
			t.Fatalf("the log never held %q:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDispatcherLogsDropsWithoutADelivery: the alerts dropped on a full
// queue are logged while the sink hangs, with no delivery ending to log
// them, and the rest at Close.
func TestDispatcherLogsDropsWithoutADelivery(t *testing.T) {
	sink := &deafSink{entered: make(chan int, 1), release: make(chan struct{})}
	defer close(sink.release)
	var logs syncbuf.Buffer
	d, _ := newDispatcher(t, Options{
		Sinks: []SinkConfig{{Sink: sink, QueueSize: 2}}, MaxBatch: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), dropReport: 20 * time.Millisecond,
	})
	d.Publish(&Alert{AlertID: "held"})
	<-sink.entered
	for i := range 7 { // two queued, five dropped
		d.Publish(&Alert{AlertID: fmt.Sprint(i)})
	}
	waitLog(t, &logs, `msg="alert queue full; alerts dropped" sink=deaf dropped=5 dropped_total=5`)
	for i := range 3 {
		d.Publish(&Alert{AlertID: fmt.Sprint("late-", i)})
	}
	if err := closeWithin(t, d, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "3 alerts not delivered") {
		t.Errorf("Close = %v, want the held and the two queued alerts not delivered", err)
	}
	if !strings.Contains(logs.String(), `msg="alert queue full; alerts dropped" sink=deaf dropped=3 dropped_total=8 at=shutdown`) {
		t.Errorf("the drops since the last line are not logged at shutdown:\n%s", logs.String())
	}
	if got := testutil.ToFloat64(d.queues[0].m.dropFull); got != 8 {
		t.Errorf("dropped{reason=queue_full} = %v, want 8", got)
	}
}

// TestDispatcherCloseLeavesADeafSinkBehind: a Send that ignores its
// cancelled context does not hold Close past its deadline (and a short
// grace): what it holds and what is queued are counted as not delivered.
func TestDispatcherCloseLeavesADeafSinkBehind(t *testing.T) {
	sink := &deafSink{entered: make(chan int, 1), release: make(chan struct{})}
	defer close(sink.release)
	d, _ := newDispatcher(t, Options{Sinks: []SinkConfig{{Sink: sink}}, MaxBatch: 4})
	d.Publish(&Alert{AlertID: "first"})
	held := <-sink.entered
	for i := range 10 {
		d.Publish(&Alert{AlertID: fmt.Sprint(i)})
	}
	start := time.Now()
	err := closeWithin(t, d, 100*time.Millisecond)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v with a 100ms deadline", took)
	}
	want := fmt.Sprintf("%d alerts not delivered", held+10)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "left behind") {
		t.Fatalf("Close = %v, want %q and the sink left behind", err, want)
	}
	if got := testutil.ToFloat64(d.queues[0].m.dropShutdown); got != float64(held+10) {
		t.Errorf("dropped{reason=shutdown} = %v, want %d", got, held+10)
	}
}
