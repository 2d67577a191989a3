package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
)

// Message encodings, as the content-type header and AttemptFormat name them.
const (
	formatJSON  = "json"
	formatProto = "protobuf"
)

// Headers riskgate sets on the messages it writes.
const (
	HeaderContentType = "content-type"
	// Dead letters carry why and where from.
	HeaderError             = "riskgate-error"
	HeaderErrorField        = "riskgate-error-field"
	HeaderOriginalTopic     = "riskgate-original-topic"
	HeaderOriginalPartition = "riskgate-original-partition"
	HeaderOriginalOffset    = "riskgate-original-offset"
	// A dead letter is bounded (see deadLetterValueMax): what was cut is
	// said. HeaderTruncatedFrom is the size of the original value when
	// only its first deadLetterValueMax bytes are kept, likewise
	// HeaderKeyTruncatedFrom for the key; HeaderHeadersDropped counts the
	// original headers left out, the last ones, past deadLetterHeadersMax.
	HeaderTruncatedFrom    = "riskgate-truncated-from"
	HeaderKeyTruncatedFrom = "riskgate-key-truncated-from"
	HeaderHeadersDropped   = "riskgate-headers-dropped"
	// HeaderRedacted says what of a dead letter's value was redacted,
	// because it is or may be a secret (see redactDeadLetter): the paths
	// of the fields whose values were replaced with RedactedMarker, comma
	// separated ("attributes.password,password_sha1"), or "message" when
	// the value was left out whole (it could not be parsed to redact only
	// the secret).
	HeaderRedacted = "riskgate-redacted"
	// Decisions and alerts name the message they answer.
	HeaderSource = "riskgate-source" // <topic>/<partition>/<offset>
)

// A dead letter must fit what the writer sends (kafka-go's BatchBytes,
// 1 MiB) and what the brokers take (message.max.bytes, 1 MiB by default,
// often less on a dead-letter topic), whatever arrived: a message produced
// with compression or a raised limit can be far bigger. Attempts and
// outcomes are a few hundred bytes, so 64 KiB keeps any a producer meant
// to send whole and enough of anything else to see what it was; the whole
// dead letter stays under 100 KiB, several to a request.
const (
	deadLetterValueMax   = 64 << 10
	deadLetterKeyMax     = 1 << 10
	deadLetterHeadersMax = 16 << 10 // the original headers' keys and values together
	deadLetterErrorMax   = 1 << 10  // an error may quote the input
)

// worker is one of the runner's scoring goroutines and its reusable
// buffers.
type worker struct {
	r     *Runner
	batch []*item
	// late are the messages of batches whose commit failed while their
	// generation went on (a coordinator that timed out): the next commit
	// of their partition covers their offsets, and observes their delays.
	late []lateMessage
	outs []kafka.Message
	// arena holds the encoded values of a batch's messages, in chunks
	// reused from batch to batch: the writer holds the values only until
	// WriteMessages returns.
	arena arena
	enc   *json.Encoder
}

// arena is a list of byte chunks that values are appended to; a value
// that does not fit in the current chunk goes to the next, so a value
// never moves once written.
type arena struct {
	chunks [][]byte
	cur    int
	last   int // where the last value written starts in chunks[cur]
}

const arenaChunk = 256 << 10

// Write appends p whole (json.Encoder writes each value with one Write).
func (a *arena) Write(p []byte) (int, error) {
	if len(a.chunks) == 0 {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(p))))
	}
	if c := a.chunks[a.cur]; len(p) > cap(c)-len(c) {
		a.cur++
		switch {
		case a.cur == len(a.chunks):
			a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(p))))
		case cap(a.chunks[a.cur]) < len(p):
			a.chunks[a.cur] = make([]byte, 0, len(p))
		}
	}
	c := a.chunks[a.cur]
	a.last = len(c)
	a.chunks[a.cur] = append(c, p...)
	return len(p), nil
}

// lastValue is the last value written, without its final byte (the
// newline json.Encoder adds).
func (a *arena) lastValue() []byte {
	c := a.chunks[a.cur]
	end := len(c) - 1
	return c[a.last:end:end]
}

// reset makes the chunks reusable: only once nothing refers to them.
func (a *arena) reset() {
	for i := range a.chunks[:min(a.cur+1, len(a.chunks))] {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur, a.last = 0, 0
}

// jsonType is the value of the content-type header of what riskgate
// writes; messages share it.
var jsonType = []byte("application/json")

// work decides the messages arriving on in, in batches, until in closes.
func (r *Runner) work(ctx context.Context, in chan *item) {
	w := &worker{r: r, batch: make([]*item, 0, r.opts.BatchSize)}
	w.enc = json.NewEncoder(&w.arena)
	w.enc.SetEscapeHTML(false) // as the HTTP API: "<" reads as written
	for it := range in {
		w.batch = append(w.batch[:0], it)
	fill:
		for len(w.batch) < r.opts.BatchSize {
			select {
			case it, ok := <-in:
				if !ok {
					break fill
				}
				w.batch = append(w.batch, it)
			default:
				break fill
			}
		}
		w.process(ctx)
	}
}

// errAbandon means the batch cannot be finished (the shutdown budget is
// spent): nothing of it is committed, so it will be delivered again.
var errAbandon = errors.New("stream: batch abandoned")

// ErrUndrained is what Undrained wraps: the shutdown budget ran out
// before every message fetched was decided, written and committed. None
// is lost (their offsets are not committed: they are delivered again, to
// this node or another), but the shutdown did not finish its work.
var ErrUndrained = errors.New("stream: shutdown budget spent before the messages fetched were committed")

// Undrained reports, once Run has returned, whether the shutdown left
// messages fetched and not committed: nil, or an error wrapping
// ErrUndrained that says how many (they will be delivered again).
func (r *Runner) Undrained() error {
	if n := r.abandoned.Load(); n > 0 {
		return fmt.Errorf("%w: %d left uncommitted, to be delivered again", ErrUndrained, n)
	}
	return nil
}

// process decides a batch, writes its outputs and commits it.
func (w *worker) process(ctx context.Context) {
	r := w.r
	defer w.release()
	// The last batch's values were written (or dropped) before this one.
	w.outs = w.outs[:0]
	w.arena.reset()
	for _, it := range w.batch {
		var err error
		switch it.msg.Topic {
		case r.opts.AttemptsTopic:
			err = w.attempt(ctx, it)
		case r.opts.OutcomesTopic:
			err = w.outcome(ctx, it)
		}
		if err != nil {
			w.abandon(err)
			return
		}
	}
	if err := w.write(ctx); err != nil {
		// A write cut short may still hold the values: let it keep them.
		w.arena = arena{}
		w.abandon(err)
		return
	}
	w.commit()
}

// closeWriter closes the writer at the end of Run. After a shutdown that
// abandoned batches (see Undrained) it does not wait for what the writer
// still holds: kafka.Writer.Close waits for every batch, three tries of
// 10 s each when the brokers do not answer, and those batches' messages
// are uncommitted, delivered again anyway.
func (r *Runner) closeWriter() {
	done := make(chan struct{})
	go func() {
		_ = r.writer.Close()
		close(done)
	}()
	if r.abandoned.Load() == 0 {
		<-done // every write ended: nothing is pending
		return
	}
	select {
	case <-done:
	default:
		r.log.Warn("shutdown: writes of abandoned batches still in progress are left to the brokers, not waited for")
	}
}

// abandon counts the batch as left uncommitted by the shutdown (see
// Undrained) and says so, at most once in 10 seconds.
func (w *worker) abandon(err error) {
	r := w.r
	total := r.abandoned.Add(int64(len(w.batch)))
	r.warn("abandon", "shutdown budget spent; batch abandoned, not committed: its messages will be delivered again",
		"messages", len(w.batch), "abandoned_total", total, "err", err)
}

// release hands the batch's buffer tokens back.
func (w *worker) release() {
	for _, it := range w.batch {
		it.part.wg.Done()
		<-w.r.sem
	}
	clear(w.batch)
}

// format is the encoding of a message: its content-type header, else the
// configured default.
func (w *worker) format(m *kafka.Message) (string, error) {
	for _, h := range m.Headers {
		if h.Key != HeaderContentType && h.Key != "Content-Type" {
			continue
		}
		mt, _, err := mime.ParseMediaType(string(h.Value))
		switch {
		case err != nil:
		case mt == "application/json" || len(mt) > 5 && mt[len(mt)-5:] == "+json":
			return formatJSON, nil
		case mt == "application/x-protobuf" || mt == "application/protobuf" || mt == "application/vnd.google.protobuf":
			return formatProto, nil
		}
		return "", &wire.Error{Msg: fmt.Sprintf("content-type %q: want application/json or application/x-protobuf", h.Value)}
	}
	if w.r.opts.AttemptFormat == formatProto {
		return formatProto, nil
	}
	return formatJSON, nil
}

func (w *worker) attempt(ctx context.Context, it *item) error {
	r, m := w.r, &it.msg
	f, err := w.format(m)
	var a engine.Attempt
	if err == nil {
		if f == formatProto {
			a, err = wire.DecodeAttemptProto(m.Value)
		} else {
			a, err = wire.DecodeAttemptJSON(m.Value)
		}
	}
	if err != nil {
		w.deadLetter(m, err)
		return nil
	}
	// A redelivered message must be recognised: give it an id from its
	// coordinates when the producer gave none.
	if a.AttemptID == "" {
		a.AttemptID = generatedID(m)
	}
	// An attempt without a time happened when it was produced, not when a
	// lagging consumer gets to it.
	if a.Time.IsZero() && !m.Time.IsZero() {
		a.Time = m.Time
	}
	claim := r.deps.Claims != nil && r.deps.Alerts != nil && r.opts.AlertsTopic != ""
	if claim {
		r.deps.Claims.Claim(a.Tenant, a.AttemptID)
	}
	d, err := r.scorer.Score(ctx, a)
	if claim {
		r.deps.Claims.Release(a.Tenant, a.AttemptID)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return errAbandon
	default:
		// Invalid input, or an attempt_id reused for another attempt.
		w.deadLetter(m, err)
		return nil
	}
	key := decisionKey(&d)
	if !bytes.Equal(m.Key, key) {
		// The producer's partitioner spreads such a user's attempts over
		// partitions: their decisions keep no order. Counted and warned
		// of (coordinates only: a key holds a user id).
		r.m.topic(m.Topic).misKeyed.Inc()
		r.warn("mis-keyed", "attempts keyed otherwise than <tenant>/<user> (README, \"Streams and alerts\"): a user's decisions may come out of order",
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "key_bytes", len(m.Key))
	}
	src := []kafka.Header{{Key: HeaderContentType, Value: jsonType}, {Key: HeaderSource, Value: []byte(source(m))}}
	if r.opts.AlertsTopic != "" && r.deps.Alerts != nil {
		if al := r.deps.Alerts.Build(&d); al != nil {
			v, err := w.marshal(al)
			if err != nil {
				w.deadLetter(m, err)
				return nil
			}
			w.outs = append(w.outs, kafka.Message{Topic: r.opts.AlertsTopic, Key: AlertKey(al), Value: v, Headers: src, WriterData: m})
		}
	}
	if r.opts.DecisionsTopic != "" {
		if r.opts.OmitSignals {
			d.Signals = engine.Env{}
		}
		v, err := w.marshal(&d)
		if err != nil {
			w.deadLetter(m, err)
			return nil
		}
		w.outs = append(w.outs, kafka.Message{Topic: r.opts.DecisionsTopic, Key: key, Value: v, Headers: src, WriterData: m})
	}
	return nil
}

// marshal encodes v as the HTTP API does (no HTML escaping) into the
// batch's arena, and returns its slice of it.
func (w *worker) marshal(v any) ([]byte, error) {
	if err := w.enc.Encode(v); err != nil {
		return nil, err
	}
	return w.arena.lastValue(), nil
}

func (w *worker) outcome(ctx context.Context, it *item) error {
	r, m := w.r, &it.msg
	f, err := w.format(m)
	var o engine.Outcome
	if err == nil {
		if f == formatProto {
			o, err = wire.DecodeOutcomeProto(m.Value)
		} else {
			o, err = wire.DecodeOutcomeJSON(m.Value)
		}
	}
	if err != nil {
		w.deadLetter(m, err)
		return nil
	}
	// An outcome sent with its attempt is applied once per attempt_id:
	// one without an id gets it from its coordinates, as an attempt
	// does, so that a redelivery does not count it again.
	if o.Attempt != nil && o.Attempt.AttemptID == "" {
		o.Attempt.AttemptID = generatedID(m)
	}
	// A store that is briefly unavailable is waited for: the outcome
	// would otherwise be lost to learning.
	for failures := 0; ; failures++ {
		err = r.scorer.Report(ctx, o)
		if err == nil || !errors.Is(err, engine.ErrUnavailable) || failures == 5 || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, backoff(failures, 100*time.Millisecond, 2*time.Second))
	}
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrUnknownDecision):
		// Already reported (a redelivery), expired, or never issued.
		r.m.skipped.WithLabelValues("unknown_decision").Inc()
	case ctx.Err() != nil:
		return errAbandon
	default:
		w.deadLetter(m, err)
	}
	return nil
}

// deadLetter queues m for the dead-letter topic with why and where from;
// without one, it logs and counts it.
func (w *worker) deadLetter(m *kafka.Message, cause error) {
	if dl, ok := w.deadLetterOf(m, cause); ok {
		w.outs = append(w.outs, dl)
	}
}

// deadLetterOf is the dead letter of m, bounded in size; without a
// dead-letter topic, it logs and counts m and returns false. Its
// WriterData is m.
func (w *worker) deadLetterOf(m *kafka.Message, cause error) (kafka.Message, bool) {
	r := w.r
	r.m.topic(m.Topic).deadLettered.Inc()
	field := causeField(cause)
	if r.opts.DeadLetterTopic == "" {
		// The message itself stays out of the log: it is attempt data.
		r.warn("dead-letter", "invalid message skipped (no dead-letter topic configured)",
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "field", field)
		return kafka.Message{}, false
	}
	h := make([]kafka.Header, 0, min(len(m.Headers), 64)+10)
	size, kept := 0, 0
	for _, oh := range m.Headers {
		size += len(oh.Key) + len(oh.Value)
		if size > deadLetterHeadersMax {
			break
		}
		h = append(h, oh)
		kept++
	}
	h = append(h,
		kafka.Header{Key: HeaderError, Value: cut([]byte(cause.Error()), deadLetterErrorMax)},
		kafka.Header{Key: HeaderOriginalTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderOriginalPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kafka.Header{Key: HeaderOriginalOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
	)
	if field != "" {
		h = append(h, kafka.Header{Key: HeaderErrorField, Value: cut([]byte(field), deadLetterErrorMax)})
	}
	// A secret the engine refused must not spread to the dead-letter
	// topic: redacted before the value is cut, so a cut cannot hide it.
	format, _ := w.format(m)
	red := redactDeadLetter(m.Value, format, m.Topic == r.opts.OutcomesTopic, cause)
	key, value := m.Key, red.value
	switch {
	case red.dropped:
		value = []byte{} // not nil: a null value is a tombstone to a compacted topic
		h = append(h, kafka.Header{Key: HeaderRedacted, Value: []byte(redactedMessage)})
		r.m.topic(m.Topic).redacted.Inc()
	case len(red.fields) > 0:
		h = append(h, kafka.Header{Key: HeaderRedacted, Value: cut([]byte(strings.Join(red.fields, ",")), deadLetterErrorMax)})
		r.m.topic(m.Topic).redacted.Inc()
	}
	if len(value) > deadLetterValueMax {
		h = append(h, kafka.Header{Key: HeaderTruncatedFrom, Value: strconv.AppendInt(nil, int64(len(value)), 10)})
		value = value[:deadLetterValueMax:deadLetterValueMax]
	}
	if len(key) > deadLetterKeyMax {
		key = key[:deadLetterKeyMax:deadLetterKeyMax]
		h = append(h, kafka.Header{Key: HeaderKeyTruncatedFrom, Value: strconv.AppendInt(nil, int64(len(m.Key)), 10)})
	}
	if dropped := len(m.Headers) - kept; dropped > 0 {
		h = append(h, kafka.Header{Key: HeaderHeadersDropped, Value: strconv.AppendInt(nil, int64(dropped), 10)})
	}
	return kafka.Message{Topic: r.opts.DeadLetterTopic, Key: key, Value: value, Headers: h, Time: m.Time, WriterData: m}, true
}

// cut keeps at most n bytes of b, not splitting a UTF-8 sequence.
func cut(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	return b[:i:i]
}

// write writes the batch's outputs, retrying what fails until all are
// acknowledged or the shutdown budget is spent. What the writer or the
// brokers refuse for good (its size or content, see refusal) is not
// retried, or the partition would never move on: see refuse.
func (w *worker) write(ctx context.Context) error {
	r := w.r
	outs := w.outs
	for failures := 0; len(outs) > 0; {
		err := r.writer.WriteMessages(ctx, outs...)
		if err == nil {
			w.count(outs)
			r.m.setConnected(true)
			return nil
		}
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			// The writer checks sizes before sending anything: the others
			// go again at once.
			outs = w.refuse(tooLarge.Remaining, &tooLarge.Message, err)
			continue
		}
		var (
			retry    []kafka.Message // failed, to be retried after a back-off
			fresh    []kafka.Message // dead letters of refused outputs, never tried
			refused  []kafka.Message
			refusals []error
			we       kafka.WriteErrors
		)
		if errors.As(err, &we) && len(we) == len(outs) {
			for i, e := range we {
				switch {
				case e == nil:
					r.m.topic(outs[i].Topic).produced.Inc()
				case refusal(e) != "":
					refused, refusals = append(refused, outs[i]), append(refusals, e)
				default:
					r.m.topic(outs[i].Topic).writeErrors.Inc()
					retry = append(retry, outs[i])
				}
			}
		} else {
			for i := range outs {
				r.m.topic(outs[i].Topic).writeErrors.Inc()
			}
			retry = outs
		}
		// A refusal answers a partition's whole batch: for one of its
		// messages, or for their sum. Each is tried alone to find which.
		for i := range refused {
			m, e := &refused[i], refusals[i]
			if len(refused) > 1 {
				e = r.writer.WriteMessages(ctx, *m)
				if e == nil {
					r.m.topic(m.Topic).produced.Inc()
					continue
				}
				if one, ok := e.(kafka.WriteErrors); ok && len(one) == 1 && one[0] != nil {
					e = one[0]
				}
			}
			if refusal(e) == "" {
				r.m.topic(m.Topic).writeErrors.Inc()
				retry = append(retry, *m)
				continue
			}
			fresh = w.refuse(fresh, m, e)
		}
		if len(retry) == 0 {
			// The brokers answered every message: they are fine.
			r.m.setConnected(true)
			outs = fresh
			continue
		}
		r.m.setConnected(false)
		if ctx.Err() != nil {
			// Not retried: the shutdown budget is spent.
			return fmt.Errorf("%w: writing %d decisions and alerts: %w", errAbandon, len(retry), err)
		}
		r.warn("write", "writing decisions and alerts failed; retrying (fetching pauses when the buffer is full)",
			"messages", len(retry), "err", err)
		outs = append(retry, fresh...)
		sleepCtx(ctx, backoff(failures, 100*time.Millisecond, 5*time.Second))
		failures++
		if ctx.Err() != nil {
			return fmt.Errorf("%w: writing %d decisions and alerts: %w", errAbandon, len(retry), err)
		}
	}
	return nil
}

// refusal says why err means a message can never be written ("" when it
// may yet be): too big for the writer or the topic, or content the
// broker refuses (a corrupt or invalid record, which kafka-go has already
// retried, or a timestamp outside the topic's bounds).
func refusal(err error) string {
	switch {
	case errors.Is(err, kafka.MessageSizeTooLarge), errors.Is(err, kafka.RecordListTooLarge),
		errors.Is(err, kafka.InvalidMessageSize): // and kafka.MessageTooLargeError
		return refusedTooLarge
	case errors.Is(err, kafka.InvalidMessage), errors.Is(err, kafka.InvalidRecord):
		return refusedInvalidRecord
	case errors.Is(err, kafka.InvalidTimestamp):
		return refusedInvalidTimestamp
	}
	return ""
}

// refuse gives up on m, refused for good with err, and returns outs with
// what replaces it. A dead letter is dropped, counted and logged with the
// coordinates of the message it was for: retrying it would hold its
// partition forever; each is logged, the offsets to read it again. A
// decision or alert is not dropped silently: the
// attempt it answers goes to the dead-letter topic in its place, with
// why, for it to be replayed (the same decision again) once the topic
// takes it.
func (w *worker) refuse(outs []kafka.Message, m *kafka.Message, err error) []kafka.Message {
	r := w.r
	reason := refusal(err)
	r.m.refused.WithLabelValues(m.Topic, reason).Inc()
	src, _ := m.WriterData.(*kafka.Message)
	if src == nil { // every output names its source; never without a bug
		r.log.Error("message refused by the brokers, dropped", "topic", m.Topic, "reason", reason, "err", err)
		return outs
	}
	if m.Topic == r.opts.DeadLetterTopic {
		r.log.Error("dead letter refused by the brokers, dropped; the partition moves on",
			"topic", src.Topic, "partition", src.Partition, "offset", src.Offset,
			"dead_letter_topic", m.Topic, "reason", reason, "err", err)
		return outs
	}
	for i := range outs {
		if outs[i].Topic == r.opts.DeadLetterTopic && outs[i].WriterData == any(src) {
			return outs // its decision and alert both refused: one dead letter
		}
	}
	// Not lost: a line every 10 seconds is enough, where a topic limit
	// set too low refuses every decision.
	r.warn("refused", "output refused by the brokers; its message goes to the dead-letter topic instead",
		"topic", src.Topic, "partition", src.Partition, "offset", src.Offset,
		"output_topic", m.Topic, "reason", reason, "err", err)
	if dl, ok := w.deadLetterOf(src, fmt.Errorf("stream: writing to %s: %w", m.Topic, err)); ok {
		outs = append(outs, dl)
	}
	return outs
}

// count counts written messages by topic.
func (w *worker) count(outs []kafka.Message) {
	for i := range outs {
		w.r.m.topic(outs[i].Topic).produced.Inc()
	}
}

// lateMessage is a message whose delay waits for a commit that covers it.
type lateMessage struct {
	part   *partition
	offset int64
	topic  string
	time   time.Time
}

// commit commits the batch's offsets, per generation, updates the lag,
// and observes the delays of the messages committed: the batch's, and
// those of batches whose commit failed that this one covers.
func (w *worker) commit() {
	r := w.r
	type last struct {
		offset, highWater int64
	}
	byGen := map[*generation]map[*partition]last{}
	for _, it := range w.batch {
		parts := byGen[it.part.gen]
		if parts == nil {
			parts = map[*partition]last{}
			byGen[it.part.gen] = parts
		}
		if l, ok := parts[it.part]; !ok || it.msg.Offset > l.offset {
			parts[it.part] = last{it.msg.Offset, it.msg.HighWaterMark}
		}
	}
	for g, parts := range byGen {
		offsets := map[string]map[int]int64{}
		for p, l := range parts {
			if offsets[p.topic] == nil {
				offsets[p.topic] = map[int]int64{}
			}
			offsets[p.topic][p.id] = l.offset + 1
		}
		start := time.Now()
		err := g.commit(offsets)
		r.m.commitDur.Observe(time.Since(start).Seconds())
		if err != nil {
			r.m.commitErrors.Inc()
			r.warn("commit", "committing offsets failed (after a rebalance this is expected); the messages will be delivered again", "err", err)
			w.keepLate(g)
			for _, it := range w.batch {
				if it.part.gen == g {
					it.part.uncommitted.Add(1)
				}
			}
			for p, l := range parts {
				p.failedNext.Store(l.offset + 1)
			}
			continue
		}
		for p, l := range parts {
			p.done(l.offset+1, l.highWater)
		}
		now := time.Now()
		observe := func(topic string, t time.Time) {
			if o := r.m.delays[topic]; o != nil && !t.IsZero() {
				o.Observe(max(now.Sub(t), 0).Seconds())
			}
		}
		for _, it := range w.batch {
			if it.part.gen == g {
				observe(it.msg.Topic, it.msg.Time)
			}
		}
		// A failed commit's messages: observed once a commit covers them;
		// dropped once their generation is over (they are delivered again,
		// to whichever node, and observed when that node commits them).
		kept := w.late[:0]
		for _, m := range w.late {
			if m.part.gen != g {
				continue
			}
			if l, ok := parts[m.part]; ok && m.offset <= l.offset {
				observe(m.topic, m.time)
				continue
			}
			kept = append(kept, m)
		}
		clear(w.late[len(kept):])
		w.late = kept
	}
}

// keepLate keeps the delays of the batch's messages of g, whose commit
// failed, for the commit that covers them. They are bounded by the
// buffer: a coordinator that fails every commit for long costs the
// delays of the messages beyond it, not memory.
func (w *worker) keepLate(g *generation) {
	for _, it := range w.batch {
		if it.part.gen != g || len(w.late) >= w.r.opts.BufferSize {
			continue
		}
		if w.r.m.delays[it.msg.Topic] == nil || it.msg.Time.IsZero() {
			continue
		}
		w.late = append(w.late, lateMessage{part: it.part, offset: it.msg.Offset, topic: it.msg.Topic, time: it.msg.Time})
	}
}

// source names a message by its coordinates.
func source(m *kafka.Message) string {
	return m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
}

// generatedID is the attempt id of a message that has none: its
// coordinates and its record's timestamp in milliseconds
// (<topic>/<partition>/<offset>@<ms>), which a redelivery of the message
// keeps. Coordinates alone are reused: a topic deleted and made again, or
// a cluster replaced, starts its partitions at offset 0 again, and within
// --attempt-window every new attempt took the id of the one the node had
// decided at its coordinates before, dead-lettered as "attempt_id: already
// used for a different attempt", or, the same user from the same address,
// answered with the earlier decision and not counted. A record without a
// timestamp keeps its coordinates alone.
func generatedID(m *kafka.Message) string {
	id := source(m)
	if ms := m.Time.UnixMilli(); !m.Time.IsZero() && ms > 0 {
		id += "@" + strconv.FormatInt(ms, 10)
	}
	return id
}
