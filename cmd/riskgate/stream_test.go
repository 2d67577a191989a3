package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
)

// The stream's topics in these tests.
const (
	topicAttempts  = "login-attempts"
	topicDecisions = "risk-decisions"
	topicAlerts    = "risk-alerts"
	topicDead      = "risk-dead-letters"
)

// TestServeKafka runs the real binary against an in-process Kafka broker
// (kfake): attempts produced to a topic are decided and their decisions and
// alerts written back; the same attempts scored over HTTP by another
// binary get the same decisions and raise the same alerts (as log lines,
// having no sink); a decision made over HTTP by the streaming node alerts
// on the alerts topic too, once; the Kafka health service says SERVING
// while /readyz stays about the process; and on SIGTERM the node commits
// what it consumed and exits 0.
func TestServeKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(4, topicAttempts, topicDecisions, topicAlerts, topicDead),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()

	const hmac = "hmac-secret-of-the-stream-test-0123"
	env := []string{"RISKGATE_HMAC_SECRET=" + hmac}
	// The flags and the variables both work: half of each.
	streaming := startBinary(t, bin, append(env,
		"RISKGATE_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"RISKGATE_KAFKA_ATTEMPTS_TOPIC="+topicAttempts,
		"RISKGATE_KAFKA_GROUP=riskgate-binary-test",
	),
		"--kafka-decisions-topic", topicDecisions, "--kafka-alerts-topic", topicAlerts,
		"--kafka-dead-letter-topic", topicDead, "--kafka-session-timeout", "1s",
		"--no-rules-watch", "--shutdown-timeout", "15s")

	var journeys [][]engine.Attempt
	n := 0
	for u := range 6 {
		j := journey(u)
		journeys = append(journeys, j)
		n += len(j)
	}
	var msgs []kafka.Message
	for _, j := range journeys {
		for _, a := range j {
			v, _ := json.Marshal(a)
			msgs = append(msgs, kafka.Message{Topic: topicAttempts, Key: stream.Key(a.Tenant, a.UserID), Value: v})
		}
	}
	// A poison message goes to the dead letters; its partition goes on.
	msgs = append(msgs, kafka.Message{Topic: topicAttempts, Key: []byte("t000/u-0"), Value: []byte(`{"ip":"not an address"}`)})
	produceTo(t, brokers, msgs)

	decisions := map[string]engine.Decision{}
	for _, m := range readAll(t, brokers, topicDecisions, n) {
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatalf("decision %s: %v", m.Value, err)
		}
		if _, dup := decisions[d.AttemptID]; dup {
			t.Errorf("attempt %s decided twice", d.AttemptID)
		}
		decisions[d.AttemptID] = d
	}
	dead := readAll(t, brokers, topicDead, 1)
	if h := header(dead[0], stream.HeaderErrorField); h != "ip" {
		t.Errorf("dead letter names field %q, want ip", h)
	}

	// The same attempts over HTTP, on a node without Kafka.
	plain := startBinary(t, bin, env, "--no-rules-watch")
	httpAlerts := map[string]bool{}
	for _, j := range journeys {
		for _, a := range j {
			var d engine.Decision
			postJSON(t, "http://"+plain.http+"/v1/score", a, &d)
			got, ok := decisions[a.AttemptID]
			if !ok {
				t.Fatalf("attempt %s: no decision on the topic", a.AttemptID)
			}
			if err := sameOutcome(got, d); err != nil {
				t.Errorf("attempt %s: the stream and HTTP disagree: %v", a.AttemptID, err)
			}
			if alerts(&d) {
				httpAlerts[a.AttemptID] = true
			}
		}
	}
	if len(httpAlerts) == 0 {
		t.Fatal("the journeys raised no alert: the test checks nothing")
	}
	// Without a sink, the HTTP node's alerts are log lines.
	alertLine := regexp.MustCompile(`msg=alert .*attempt_id=(\S+)`)
	logged := map[string]bool{}
	eventually(t, "the HTTP node's alert log lines", func() bool {
		for _, m := range alertLine.FindAllStringSubmatch(plain.logs(), -1) {
			logged[m[1]] = true
		}
		return len(logged) >= len(httpAlerts)
	})
	if !equalSets(logged, httpAlerts) {
		t.Errorf("alerts logged by the HTTP node %v, want %v", keys(logged), keys(httpAlerts))
	}

	// A decision made over HTTP on the streaming node alerts on the topic.
	extra := journey(99)
	for _, a := range extra {
		var d engine.Decision
		postJSON(t, "http://"+streaming.http+"/v1/score", a, &d)
		if alerts(&d) {
			httpAlerts[a.AttemptID] = true
		}
	}
	var topicAlertsSeen map[string]int
	eventually(t, "every alert on the alerts topic", func() bool {
		topicAlertsSeen = map[string]int{}
		for _, m := range readEnd(t, brokers, topicAlerts) {
			var a alert.Alert
			if err := json.Unmarshal(m.Value, &a); err != nil {
				t.Fatalf("alert %s: %v", m.Value, err)
			}
			if a.User.Username != "" {
				t.Errorf("alert %s carries a plain username (the default is a keyed hash)", a.AlertID)
			}
			topicAlertsSeen[a.AttemptID]++
		}
		return len(topicAlertsSeen) >= len(httpAlerts)
	})
	for id, c := range topicAlertsSeen {
		if c != 1 {
			t.Errorf("attempt %s alerted %d times on the topic", id, c)
		}
		if !httpAlerts[id] {
			t.Errorf("attempt %s alerted on the topic but not over HTTP", id)
		}
	}
	if len(topicAlertsSeen) != len(httpAlerts) {
		t.Errorf("%d attempts alerted on the topic, want %d", len(topicAlertsSeen), len(httpAlerts))
	}

	// Kafka's health is its own service; readiness is the process's.
	if code := get(t, "http://"+streaming.http+"/readyz", "", nil); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	awaitHealth(t, streaming.grpc, "riskgate.kafka", healthpb.HealthCheckResponse_SERVING)
	var metrics string
	eventually(t, "the stream's metrics", func() bool {
		metrics = getText(t, "http://"+streaming.http+"/metrics")
		return strings.Contains(metrics, "riskgate_kafka_connected 1")
	})
	for _, want := range []string{`riskgate_kafka_messages_consumed_total{topic="login-attempts"}`, "riskgate_alerts_sent_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if code := streaming.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, streaming.logs())
	}
	plain.stop(t)
	// Everything consumed was committed: a new member of the group would
	// start at the end.
	committed := committedOffsets(t, brokers, "riskgate-binary-test", topicAttempts)
	ends := endOffsets(t, brokers, topicAttempts)
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d: committed %d, end %d", p, committed[p], end)
		}
	}
}

// journey is one user's logins in a tenant of their own (their state is
// theirs alone, whatever the order partitions are read in): a login from
// London, one from Tokyo an hour later (impossible travel), then failures
// from a third address (brute force).
func journey(u int) []engine.Attempt {
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	tenant, user := fmt.Sprintf("t%03d", u), fmt.Sprintf("u-%d", u)
	london, tokyo := [2]float64{51.5, -0.12}, [2]float64{35.68, 139.65}
	var out []engine.Attempt
	add := func(dt time.Duration, ip string, res engine.Result, at *[2]float64, country string) {
		a := engine.Attempt{
			Tenant: tenant, AttemptID: fmt.Sprintf("%s-%02d", tenant, len(out)), Time: t0.Add(dt),
			UserID: user, Username: fmt.Sprintf("User%d@Example.com", u), IP: ip, Result: res,
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
		}
		if at != nil {
			a.Geo = &engine.GeoHint{Country: country, Lat: &at[0], Lon: &at[1]}
		}
		out = append(out, a)
	}
	add(0, fmt.Sprintf("81.2.%d.1", u), engine.ResultPasswordOK, &london, "GB")
	add(time.Hour, fmt.Sprintf("126.2.%d.9", u), engine.ResultPasswordOK, &tokyo, "JP")
	for i := range 12 {
		add(2*time.Hour+time.Duration(i)*time.Minute, fmt.Sprintf("81.2.%d.50", u), engine.ResultPasswordBad, nil, "")
	}
	return out
}

// alerts reports whether a decision alerts: a matched rule says alert.
func alerts(d *engine.Decision) bool { return d.Alert }

// sameOutcome compares two decisions but for their ids.
func sameOutcome(got, want engine.Decision) error {
	got.DecisionID, want.DecisionID = "", ""
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		return fmt.Errorf("\n got %s\nwant %s", g, w)
	}
	return nil
}

func postJSON(t *testing.T, url string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// awaitHealth waits for the gRPC health service to report want.
func awaitHealth(t *testing.T, addr, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, fmt.Sprintf("health of %s: %v", service, want), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return false
		}
		return r.Status == want
	})
}

func produceTo(t *testing.T, brokers []string, msgs []kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: stream.Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readAll reads topic from the start until want messages are in.
func readAll(t *testing.T, brokers []string, topic string, want int) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	eventually(t, fmt.Sprintf("%d messages on %s", want, topic), func() bool {
		out = readEnd(t, brokers, topic)
		return len(out) >= want
	})
	return out
}

// readEnd reads every partition of topic from the start to its end as it
// is now.
func readEnd(t *testing.T, brokers []string, topic string) []kafka.Message {
	t.Helper()
	var (
		mu  sync.Mutex
		out []kafka.Message
		wg  sync.WaitGroup
	)
	for p, end := range endOffsets(t, brokers, topic) {
		if end == 0 {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Errorf("%s/%d: %v", topic, p, err)
					return
				}
				mu.Lock()
				out = append(out, m)
				mu.Unlock()
				if m.Offset+1 >= end {
					return
				}
			}
		})
	}
	wg.Wait()
	return out
}

func endOffsets(t *testing.T, brokers []string, topic string) map[int]int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var req []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			t.Fatal(po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

func committedOffsets(t *testing.T, brokers []string, group, topic string) map[int]int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = max(p.CommittedOffset, 0)
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
