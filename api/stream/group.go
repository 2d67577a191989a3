package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// topicCheckEvery is how often the consumed topics' partitions are read,
// to follow a topic deleted, made again or given more partitions.
const topicCheckEvery = 30 * time.Second

// topology is the partition count of each consumed topic; 0: the topic
// does not exist.
type topology map[string]int

// present are the topics that exist, in the configuration's order.
func (t topology) present(topics []string) []string {
	return slices.DeleteFunc(slices.Clone(topics), func(s string) bool { return t[s] == 0 })
}

// consumedTopics are the topics the runner consumes.
func (r *Runner) consumedTopics() []string {
	var topics []string
	for _, t := range []string{r.opts.AttemptsTopic, r.opts.OutcomesTopic} {
		if t != "" {
			topics = append(topics, t)
		}
	}
	return topics
}

// consumeGroups runs the runner's membership of the consumer group until
// ctx is done: one kafka-go ConsumerGroup at a time, subscribed to the
// consumed topics that exist, made again when the topics change (one
// deleted, back, or repartitioned). kafka-go's own watch of partition
// changes is off: a consumed topic missing when it looked ended the
// generation at once, every generation, a rejoin loop of hundreds a
// second in which the group's leader, unable to read the missing topic,
// assigned no partition of any topic; and once the topic was back at the
// same partition count, it saw no change, and the group stayed assigned
// nothing until a restart.
func (r *Runner) consumeGroups(ctx, work context.Context) {
	topics := r.consumedTopics()
	every := r.topicEvery
	if every <= 0 {
		every = topicCheckEvery
	}
	var known topology // as last noted; nil before the first read
	for ctx.Err() == nil {
		top, err := r.readTopology(ctx, topics)
		if err != nil {
			// The brokers cannot be asked: take every topic as there, and
			// let the group's own errors say what is wrong.
			top = topology{}
			for _, t := range topics {
				top[t] = max(known[t], 1)
			}
		}
		r.noteTopology(known, top)
		known = top
		gctx, changed := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			r.watchTopology(gctx, topics, top, every, changed)
		}()
		if present := top.present(topics); len(present) > 0 {
			r.generations(gctx, work, present)
		} else {
			<-gctx.Done() // nothing to consume until a topic is back
		}
		changed()
		<-watched
	}
}

// watchTopology reads the topics' partitions every interval, and calls
// changed when they differ from top.
func (r *Runner) watchTopology(ctx context.Context, topics []string, top topology, every time.Duration, changed func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := r.readTopology(ctx, topics)
		if err == nil && !maps.Equal(now, top) {
			changed()
			return
		}
	}
}

// noteTopology reports what changed between two readings of the
// topology (was nil: the first).
func (r *Runner) noteTopology(was, now topology) {
	for t, n := range now {
		missing := 0.0
		if n == 0 {
			missing = 1
		}
		r.m.topicMissing.WithLabelValues(t).Set(missing)
		before, seen := was[t]
		switch {
		case n == 0 && (!seen || before > 0):
			r.log.Warn("kafka topic missing; its messages are not consumed until it is back", "topic", t)
		case n > 0 && seen && before == 0:
			r.log.Info("kafka topic back; consuming it again", "topic", t, "partitions", n)
		case n > 0 && seen && before != n:
			r.log.Info("kafka topic partitions changed; rebalancing", "topic", t, "partitions", n, "were", before)
		}
	}
}

// readTopology reads the partition count of each topic from a broker.
func (r *Runner) readTopology(ctx context.Context, topics []string) (topology, error) {
	conn, err := r.dialAny(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	top := topology{}
	// One topic a request: a metadata request for several fails whole
	// when one of them is missing.
	for _, t := range topics {
		parts, err := conn.ReadPartitions(t)
		switch {
		case errors.Is(err, kafka.UnknownTopicOrPartition):
			top[t] = 0
		case err != nil:
			return nil, fmt.Errorf("metadata of topic %q: %w", t, err)
		default:
			top[t] = len(parts)
		}
	}
	return top, nil
}

// generations is one ConsumerGroup's life: its generations, each
// partition fetched until the generation ends, until gctx is done (the
// topics changed, or the runner stops); then it leaves the group,
// waiting no longer than the shutdown budget (work) for a join in
// progress.
func (r *Runner) generations(gctx, work context.Context, topics []string) {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: r.opts.Group, Brokers: r.opts.Brokers, Dialer: r.conn.dialer, Topics: topics,
		StartOffset: r.opts.startOffset(), SessionTimeout: r.opts.SessionTimeout,
		HeartbeatInterval: max(r.opts.SessionTimeout/10, 100*time.Millisecond),
		RebalanceTimeout:  rebalanceTimeout, JoinGroupBackoff: time.Second,
		Timeout: 10 * time.Second, ErrorLogger: kafka.LoggerFunc(r.groupError),
	})
	if err != nil {
		// Only a configuration kafka-go refuses; New checked it.
		r.log.Error("kafka consumer group", "err", err)
		<-gctx.Done()
		return
	}
	for {
		gen, err := cg.Next(gctx)
		if err != nil {
			if gctx.Err() != nil {
				break
			}
			r.m.setConnected(false)
			r.warn("join", "joining the consumer group failed; retrying", "group", r.opts.Group, "err", err)
			continue
		}
		r.m.rebalances.Inc()
		r.m.setConnected(true)
		g := &generation{g: gen}
		assigned := make([]any, 0, 2*len(gen.Assignments))
		for topic, parts := range gen.Assignments {
			ids := make([]int, 0, len(parts))
			for _, p := range parts {
				ids = append(ids, p.ID)
				r.fetchers.Add(1)
				gen.Start(func(pctx context.Context) {
					defer r.fetchers.Done()
					r.consume(gctx, work, pctx, g, topic, p.ID, p.Offset)
				})
			}
			slices.Sort(ids)
			assigned = append(assigned, topic, ids)
		}
		r.log.Info("consumer group generation", append([]any{"group", r.opts.Group, "generation", gen.ID, "member", gen.MemberID}, assigned...)...)
	}
	// Leaving the group ends the generation once every partition has
	// drained. A join in progress can take up to the rebalance timeout:
	// do not wait past the shutdown budget for it.
	left := make(chan struct{})
	go func() {
		cg.Close()
		close(left)
	}()
	select {
	case <-left:
	case <-work.Done():
		r.log.Warn("shutdown budget spent before leaving the consumer group")
	}
}
