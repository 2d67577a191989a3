package stream

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the stream's Prometheus metrics. Label values are topics and
// partitions of the configuration, a small fixed set.
type metrics struct {
	consumed     *prometheus.CounterVec
	produced     *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	redacted     *prometheus.CounterVec
	writeErrors  *prometheus.CounterVec
	refused      *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	misKeyed     *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	delay        *prometheus.HistogramVec
	commitDur    prometheus.Histogram
	commitErrors prometheus.Counter
	rebalances   prometheus.Counter
	connected    prometheus.Gauge
	isConnected  atomic.Bool
	exchanged    atomic.Bool // an exchange with the brokers was tried
	topicMissing *prometheus.GaugeVec
	offsetResets *prometheus.CounterVec
	buffer       *bufferCollector

	mu       sync.Mutex
	children map[string]topicMetrics
	// delays are the delay histograms of the consumed topics, made by
	// known before the runner runs, read only after.
	delays map[string]prometheus.Observer
}

type topicMetrics struct {
	consumed, produced, deadLettered, redacted, writeErrors, misKeyed prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_messages_consumed_total", Help: "Messages fetched from a consumed topic.",
		}, []string{"topic"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_messages_produced_total", Help: "Messages written and acknowledged, by topic.",
		}, []string{"topic"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_messages_dead_lettered_total", Help: "Messages that could not be decoded or were invalid, by the topic they came from (sent to the dead-letter topic, or logged and skipped without one).",
		}, []string{"topic"}),
		redacted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_dead_letters_redacted_total", Help: "Dead letters whose value was redacted or left out because it held a value that is or may be a secret (header riskgate-redacted), by the topic their message came from: a producer sends secrets.",
		}, []string{"topic"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_write_errors_total", Help: "Messages whose write failed and was retried, by topic.",
		}, []string{"topic"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_messages_refused_total", Help: "Messages the writer or the brokers refused for good (reason too_large, invalid_record, invalid_timestamp), by the topic written: not retried. A refused dead letter is dropped; a refused decision or alert sends its attempt to the dead-letter topic.",
		}, []string{"topic", "reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_outcomes_skipped_total", Help: "Outcomes that named an unknown, expired or already reported decision (a redelivery, or a late report): nothing to apply.",
		}, []string{"reason"}),
		misKeyed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_attempts_mis_keyed_total", Help: "Attempts consumed whose message key is not <tenant>/<user> (empty, or another): the producer spreads a user's attempts over partitions, and their decisions may come out of order.",
		}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riskgate_kafka_consumer_lag", Help: "Messages in a partition after this node's last commit (high watermark minus committed offset), for the partitions this node owns; updated as messages are fetched, so a stuck partition shows.",
		}, []string{"topic", "partition"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "riskgate_kafka_message_delay_seconds", Help: "Time from a consumed message's record timestamp to the commit of its offset, once what it led to was written (an attempt's decision and alert, an outcome applied or skipped, a dead letter): how late the stream decides, by consumed topic. Record timestamps are the producer's clock (or the broker's, with LogAppendTime); one ahead of this node's counts 0.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"topic"}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "riskgate_kafka_commit_duration_seconds", Help: "Time to commit offsets to the group coordinator.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "riskgate_kafka_commit_errors_total", Help: "Offset commits that failed (the messages will be delivered again).",
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "riskgate_kafka_rebalances_total", Help: "Consumer group generations joined.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_kafka_connected", Help: "1 when the last exchange with the brokers (join, write, commit) succeeded, 0 when it failed.",
		}),
		topicMissing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riskgate_kafka_topic_missing", Help: "1 while a consumed topic (attempts, outcomes) does not exist on the brokers (deleted, or not yet made again): its messages are not consumed until it is back, checked every 30 seconds.",
		}, []string{"topic"}),
		offsetResets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_kafka_offset_resets_total", Help: "Partitions of a consumed topic whose offset was past their end (the topic deleted and made again, or its end lost on the brokers), moved to where --kafka-start-offset starts: messages up to the old offset are read (earliest) or skipped (latest).",
		}, []string{"topic"}),
		buffer: &bufferCollector{
			fill:  prometheus.NewDesc("riskgate_kafka_buffer_messages", "Messages fetched and not yet committed.", nil, nil),
			capty: prometheus.NewDesc("riskgate_kafka_buffer_capacity", "Messages that may be fetched and not yet committed (--kafka-buffer-size).", nil, nil),
		},
		children: map[string]topicMetrics{},
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		m.consumed, m.produced, m.deadLettered, m.redacted, m.writeErrors, m.refused, m.skipped, m.misKeyed, m.lag, m.delay, m.commitDur,
		m.commitErrors, m.rebalances, m.connected, m.topicMissing, m.offsetResets, m.buffer,
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("stream: register metrics: %w", err)
		}
	}
	return nil
}

// The reasons of riskgate_kafka_messages_refused_total, as refusal gives
// them.
const (
	refusedTooLarge         = "too_large"
	refusedInvalidRecord    = "invalid_record"
	refusedInvalidTimestamp = "invalid_timestamp"
)

var refusalReasons = []string{refusedTooLarge, refusedInvalidRecord, refusedInvalidTimestamp}

// known creates, at 0, the series of the topics configured ("" is none):
// the topic counters of each, a refusal by every reason of each topic
// written, and the delay histogram of each topic consumed. Prometheus' increase() and rate() need a sample before
// an event to count it: a series created by its first refusal, dead
// letter or failed write would show no increase for it, and the alerts
// on them (a refused message is a lost one) would miss a rare event.
// Topics are the configuration's, so the set is small and fixed.
func (m *metrics) known(consumed, written []string) {
	for _, t := range slices.Concat(consumed, written) {
		if t != "" {
			m.topic(t)
		}
	}
	m.delays = map[string]prometheus.Observer{}
	for _, t := range consumed {
		if t != "" {
			m.delays[t] = m.delay.WithLabelValues(t)
			m.topicMissing.WithLabelValues(t)
			m.offsetResets.WithLabelValues(t)
		}
	}
	for _, t := range written {
		if t == "" {
			continue
		}
		for _, reason := range refusalReasons {
			m.refused.WithLabelValues(t, reason)
		}
	}
}

// topic returns the counters of a topic, resolved once.
func (m *metrics) topic(t string) topicMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.children[t]
	if !ok {
		c = topicMetrics{
			consumed: m.consumed.WithLabelValues(t), produced: m.produced.WithLabelValues(t),
			deadLettered: m.deadLettered.WithLabelValues(t), redacted: m.redacted.WithLabelValues(t), writeErrors: m.writeErrors.WithLabelValues(t),
			misKeyed: m.misKeyed.WithLabelValues(t),
		}
		m.children[t] = c
	}
	return c
}

func (m *metrics) dropLag(topic string, partition int) {
	m.lag.DeleteLabelValues(topic, strconv.Itoa(partition))
}

func (m *metrics) setConnected(ok bool) {
	m.exchanged.Store(true)
	m.isConnected.Store(ok)
	if ok {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

// bufferCollector reports the fill of the workers' queues when scraped.
type bufferCollector struct {
	fill, capty *prometheus.Desc
	fillFn      func() (fill, capacity int) // set before registration
}

func (c *bufferCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.fill
	ch <- c.capty
}

func (c *bufferCollector) Collect(ch chan<- prometheus.Metric) {
	fill, capacity := 0, 0
	if c.fillFn != nil {
		fill, capacity = c.fillFn()
	}
	ch <- prometheus.MustNewConstMetric(c.fill, prometheus.GaugeValue, float64(fill))
	ch <- prometheus.MustNewConstMetric(c.capty, prometheus.GaugeValue, float64(capacity))
}
