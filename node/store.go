package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// redisStoreTimeout bounds every Redis call when the config sets no
// --store-timeout: a login must not wait on a slow network store.
const redisStoreTimeout = 50 * time.Millisecond

// StoreHealthService is the gRPC health service name that reports the
// state store's health. The process's own health ("" and riskgate's
// services) does not follow the store: decisions are made without state
// while it is down.
const StoreHealthService = "riskgate.store"

// openStore opens the state store the config names, or takes the one
// given, with its health check, and returns the bound on its calls: the
// config's, else none in the process and redisStoreTimeout for Redis.
// Redis that does not answer at start-up does not stop the node: the
// store connects in the background (see keyer).
func (n *Node) openStore(ctx context.Context) (time.Duration, error) {
	timeout := n.cfg.StoreTimeout
	if n.set.store != nil {
		n.store = n.set.store
		n.storeHealth(timeout)
		return timeout, nil
	}
	if n.cfg.memoryStore() {
		if t := n.cfg.StoreTLS; t != (StoreTLSConfig{}) {
			return 0, errors.New("--store-tls-ca, --store-tls-cert and --store-tls-key are for a Redis --store (rediss://)")
		}
		opts := n.cfg.Memory.storeOptions()
		opts.AttemptWindow = n.cfg.AttemptWindow
		ms := memstore.New(opts)
		n.store = ms
		n.onCloseCtx("memory store", ms.Close)
		n.collect(newMemoryCollector(ms))
		n.storeHealth(timeout)
		return timeout, nil
	}
	if timeout == 0 {
		timeout = redisStoreTimeout
	}
	// go-redis's own lines (a pool that cannot dial) go to the node's
	// log, in its format.
	redisstore.SetLogger(n.log)
	ropts := redisstore.Options{URL: n.cfg.Store, Logger: n.log, Background: true, Verify: n.verifyKeyer,
		AttemptWindow: n.cfg.AttemptWindow, MinReadTimeout: n.longestStoreWait()}
	files, err := n.cfg.StoreTLS.load(&ropts)
	if err != nil {
		return 0, err
	}
	rs, err := redisstore.New(ctx, ropts)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", redisstore.Redact(n.cfg.Store), err)
	}
	n.addTLSFiles(files)
	n.store = rs
	n.onCloseCtx("redis store", rs.Close)
	n.collect(rs.Collector())
	n.storeHealth(timeout)
	return timeout, nil
}

// longestStoreWait is the longest a caller may wait on one store call
// beyond --store-timeout: the stream's, when it consumes (WithStoreWait).
func (n *Node) longestStoreWait() time.Duration {
	if n.cfg.Kafka.Enabled() {
		return n.cfg.Kafka.StoreTimeout
	}
	return 0
}

// upper is a store that may start down and come up later (Redis).
type upper interface{ Up() bool }

// keyer returns the Keyer for the secret and the store's state. A store
// that is not up yet (Redis down at start-up) gets the current scheme's
// Keyer; verifyKeyer then checks it against the state's key id before the
// store is used, and keeps the store down if the state was keyed
// otherwise.
func (n *Node) keyer(ctx context.Context, secret []byte) (*engine.Keyer, error) {
	if u, ok := n.store.(upper); ok && !u.Up() {
		k, err := engine.NewKeyer(secret)
		if err != nil {
			return nil, err
		}
		n.keyerID.Store(&keyerCheck{id: k.ID(), secret: secret})
		n.log.Info("hmac secret: the store is not connected; its key id is checked when it is", "key_id", k.ID())
		return k, nil
	}
	// A store that outlives the process records the key id of the secret
	// its state was keyed with (issue 10 item 16): another secret is
	// refused rather than finding every user unknown.
	k, note, err := engine.KeyerFor(ctx, n.store, secret)
	if err != nil {
		return nil, fmt.Errorf("hmac secret: %w", err)
	}
	switch {
	case strings.HasPrefix(note, engine.NoteUnrecordedState):
		n.log.Warn("hmac secret: " + note)
	case note != "":
		n.log.Info("hmac secret: " + note)
	}
	n.keepKeyID(k.ID())
	return k, nil
}

// keepKeyID has a store that outlives the process keep the node's key id
// recorded while it runs (redisstore.Store.KeepKeyID): a server that
// loses its data loses the key id with it, and nodes started then must
// not take the state the running nodes go on writing for state keyed
// otherwise.
func (n *Node) keepKeyID(id string) {
	if k, ok := n.store.(interface{ KeepKeyID(id string) }); ok {
		k.KeepKeyID(id)
	}
}

type keyerCheck struct {
	id       string
	secret   []byte
	verified atomic.Bool // the store has been found keyed as the node keys
}

// verifyKeyer is the Redis store's Verify: the state on a server reached
// in the background must be keyed as the node keys it.
func (n *Node) verifyKeyer(ctx context.Context) error {
	kc := n.keyerID.Load()
	if kc == nil {
		return errors.New("the node has not chosen its keyer yet")
	}
	k, _, err := engine.KeyerFor(ctx, n.store, kc.secret)
	if err == nil && k.ID() != kc.id {
		err = fmt.Errorf("%w: the store's key id is %s, the node keys with %s; restart the node to use the store's", engine.ErrKeyMismatch, k.ID(), kc.id)
	}
	switch {
	case err == nil:
		n.keepKeyID(kc.id)
		kc.verified.Store(true)
		return nil
	case errors.Is(err, engine.ErrKeyMismatch) && !kc.verified.Load():
		// Started with the wrong secret while the store was down: as at
		// a start with the store up, the node stops (README, "Rotating
		// the HMAC secret") instead of deciding without state for good.
		select {
		case n.fatal <- fmt.Errorf("hmac secret: the store that came up was keyed with another secret: %w", err):
		default:
		}
	}
	n.log.Error("hmac secret: the store that came up cannot be used; deciding without state", "err", err)
	return err
}

// storeHealth adds the store's health: an optional check (reported in
// /readyz and as the gRPC health service StoreHealthService, never
// making the process unready) and, from one ping a scrape, the
// riskgate_store_up and riskgate_store_ping_duration_seconds gauges,
// beside riskgate_store_timeout_seconds, the bound on the store calls
// (timeout).
func (n *Node) storeHealth(timeout time.Duration) {
	check := storeCheck(n.store)
	n.checks = append(n.checks, check)
	n.collect(storeHealthCollector{check: check.Check, timeout: timeout})
}

// The ping's bound is a second, not the Scores' --store-timeout (50 ms
// for Redis): the gauge says whether the store answers at all, and a
// store slower than the Scores' bound still answers. Its duration beside
// the bound says why decisions are made without state while the store
// is up.
var (
	storeUpDesc = prometheus.NewDesc("riskgate_store_up",
		"1 when the state store is in use and answers, 0 while decisions are made without state.", nil, nil)
	storePingDesc = prometheus.NewDesc("riskgate_store_ping_duration_seconds",
		"How long the state store took to answer this scrape's health check (a second at most): above riskgate_store_timeout_seconds, Scores pass their bound and are decided without state while riskgate_store_up is 1.", nil, nil)
	storeTimeoutDesc = prometheus.NewDesc("riskgate_store_timeout_seconds",
		"The bound on every store call of a Score (--store-timeout; 50ms for Redis unless set); 0: none.", nil, nil)
)

const storePingBound = time.Second

type storeHealthCollector struct {
	check   func(context.Context) error
	timeout time.Duration
}

func (c storeHealthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeUpDesc
	ch <- storePingDesc
	ch <- storeTimeoutDesc
}

func (c storeHealthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), storePingBound)
	defer cancel()
	start := time.Now()
	up := 1.0
	if c.check(ctx) != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(storePingDesc, prometheus.GaugeValue, time.Since(start).Seconds())
	ch <- prometheus.MustNewConstMetric(storeTimeoutDesc, prometheus.GaugeValue, c.timeout.Seconds())
}

// storeCheck is the health check of a store: a ping where the store can
// be pinged (Redis), always healthy where it is in the process.
func storeCheck(s any) server.Check {
	c := server.Check{Name: "store", Optional: true, HealthService: StoreHealthService, Check: func(context.Context) error { return nil }}
	if p, ok := s.(interface{ Ping(context.Context) error }); ok {
		c.Check = p.Ping
	}
	return c
}

// load reads the Redis TLS files into opts: each new connection uses
// their contents in force, re-read on SIGHUP (store-ca, store-client-cert).
func (t StoreTLSConfig) load(opts *redisstore.Options) ([]tlsfiles.Use, error) {
	var files []tlsfiles.Use
	if t.CA != "" {
		cas, err := tlsfiles.LoadCAs(t.CA)
		if err != nil {
			return nil, fmt.Errorf("--store-tls-ca: %w", err)
		}
		opts.RootCAs = cas
		files = append(files, tlsfiles.Use{Use: "store-ca", File: cas})
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("--store-tls-cert and --store-tls-key go together")
	}
	if t.Cert != "" {
		cert, err := tlsfiles.LoadKeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("--store-tls-cert, --store-tls-key: %w", err)
		}
		opts.ClientCert = cert
		files = append(files, tlsfiles.Use{Use: "store-client-cert", File: cert})
	}
	return files, nil
}
