package capture

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The Sink is a prometheus.Collector: registering it (registry.MustRegister(sink))
// exports its counters.
var (
	descLines = prometheus.NewDesc("riskgate_capture_lines_total",
		"Lines written to the capture, by kind (attempt, outcome).", []string{"kind"}, nil)
	descDropped = prometheus.NewDesc("riskgate_capture_dropped_total",
		"Events the capture dropped because its queue was full (scoring never waits for it).", nil, nil)
	descWriteErrors = prometheus.NewDesc("riskgate_capture_write_errors_total",
		"Failed writes to capture files.", nil, nil)
	descForgotten = prometheus.NewDesc("riskgate_capture_forgotten_lines_total",
		"Lines erased from the capture by Forget.", nil, nil)
	descFiles = prometheus.NewDesc("riskgate_capture_files",
		"Capture files on disk: the finished ones and the one being written (*.inprogress).", nil, nil)
	descBytes = prometheus.NewDesc("riskgate_capture_bytes",
		"Size of the capture files on disk: the finished ones and the one being written (*.inprogress), as of its last flush (every second).", nil, nil)
	descQueue = prometheus.NewDesc("riskgate_capture_queue_length",
		"Events waiting for the capture writer.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLines, descDropped, descWriteErrors, descForgotten, descFiles, descBytes, descQueue} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	st := s.Stats()
	ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(st.Attempts), "attempt")
	ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(st.Outcomes), "outcome")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descWriteErrors, prometheus.CounterValue, float64(st.WriteErrors))
	ch <- prometheus.MustNewConstMetric(descForgotten, prometheus.CounterValue, float64(st.Removed))
	ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(st.Files))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(len(s.queue)))
}
