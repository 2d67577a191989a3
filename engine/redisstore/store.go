package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// Options configure a Store. URL (or Client) is required; zero values take
// the defaults.
type Options struct {
	// URL selects the server or servers:
	//
	//	redis://[user:password@]host:port[/db][?options]   one server
	//	rediss://...                                       the same over TLS
	//	unix:///path/to/redis.sock[?db=N]                  a Unix socket
	//	redis://host1:port?addr=host2:port&addr=host3:port a Redis Cluster (any "addr"
	//	                                                   parameter, or the scheme
	//	                                                   redis+cluster / rediss+cluster)
	//	redis://sentinel1:port?master_name=mymaster&addr=sentinel2:port
	//	                                                   Sentinel-managed failover
	//	                                                   (or redis+sentinel / rediss+sentinel)
	//
	// Query options are go-redis's (dial_timeout, pool_size, max_retries, ...)
	// as redis.ParseURL, redis.ParseClusterURL and redis.ParseFailoverURL
	// accept them; the fields below override them when set.
	URL string
	// Client, when set, is used instead of URL; Close does not close it.
	// It should have ContextTimeoutEnabled set, or calls are bounded by
	// its own read and write timeouts rather than by the engine's deadline.
	Client redis.UniversalClient
	// KeyPrefix starts every key; default "rg:". It must not contain '{'
	// or '}', which delimit the cluster hash tags after it.
	KeyPrefix string
	// TLSConfig replaces the TLS configuration of a rediss:// URL (a
	// private CA, client certificates).
	TLSConfig *tls.Config
	// RootCAs and ClientCert, with a rediss:// URL, are the CAs the
	// server's certificate must chain to (nil: TLSConfig's, or the
	// system's) and the certificate presented to it (Redis asks for one
	// by default: tls-auth-clients yes), read at each new connection, so
	// that files re-read on SIGHUP are used without a restart (see
	// internal/tlsfiles). The name verified is the URL's host, as
	// go-redis verifies it, for every server of a cluster or sentinel set.
	RootCAs    *tlsfiles.CAs
	ClientCert *tlsfiles.KeyPair

	DialTimeout  time.Duration // default 2s
	ReadTimeout  time.Duration // default 1s; calls are bounded by their context too
	WriteTimeout time.Duration // default 1s
	PoolSize     int           // default go-redis's: 10 per CPU
	// MinReadTimeout raises the default read timeout, where neither
	// ReadTimeout nor the URL sets one, to at least this: the read timeout
	// bounds a call whatever its context allows, and some callers' contexts
	// allow longer (a stream's, engine.WithStoreWait).
	MinReadTimeout time.Duration
	// MaxRetries is go-redis's retry count for a failed network call;
	// default -1, none: a retried pipeline whose first try reached the
	// server would count the attempt twice, and the engine's deadline
	// leaves no time for retries anyway. A max_retries URL option is
	// honoured.
	MaxRetries int

	// ProfileTTL erases a profile not updated for this long; default 180
	// days, as the memory store. Each node sets an account's time to live
	// again at most once a day (ProfileTTL/100 when shorter), so a profile
	// may go up to that much earlier (ttlmemo.go).
	ProfileTTL time.Duration
	// PendingTTL drops a decision not reported within this; default 30
	// minutes.
	PendingTTL time.Duration
	// AttemptWindow is how long an attempt id is remembered, so that a
	// redelivered attempt (engine.Event.AttemptID) is neither counted
	// twice nor decided differently, on any node; default 10 minutes.
	// Each remembered attempt costs a key of about 100 bytes plus its
	// decision's record (a few hundred bytes).
	AttemptWindow time.Duration

	// FlushInterval is how long a Commit may wait for the next Observe to
	// carry it before a background flush sends it; default 2ms.
	FlushInterval time.Duration
	// FlushTimeout bounds a background flush; default 1s.
	FlushTimeout time.Duration
	// MaxQueue is the number of buffered writes at which Commit flushes
	// synchronously instead of waiting; default 1024.
	MaxQueue int
	// MaxBacklog caps the learned logins awaiting compaction per user; the
	// oldest beyond it are dropped (checked once the account's value
	// outgrows 160 bytes a login). A Score of the user compacts once
	// CompactBacklog are waiting, so the cap is only reached by a user who
	// is never scored; default 256.
	MaxBacklog int
	// CompactBacklog is how many learned logins a read folds into the
	// stored profile at once; fewer stay in the backlog, folded again by
	// each read, which is cheaper than rewriting the profile after every
	// login. Default 8; 1 compacts after every login.
	CompactBacklog int
	// SmallSet is how many distinct members (usernames per address,
	// subnet or ASN; accounts per password) a subject counts exactly,
	// within its longest window, before its counts move to HyperLogLogs;
	// default 300.
	SmallSet int
	// TenantFlushInterval is how often a node sends its aggregated tenant
	// counts and reads back the other nodes'; default 200ms. A node's own
	// attempts count at once; other nodes' within about twice this.
	TenantFlushInterval time.Duration

	// Background lets New return a store whose server does not answer
	// yet (Redis down at start-up): its calls fail at once with
	// engine.ErrUnavailable, so decisions are made without state, while
	// it connects in the background; once the server answers, the scripts
	// are loaded and Verify (when set) accepts the server, the store is
	// up. Without it New fails when the server does not answer.
	Background bool
	// Verify, with Background, is run on a server reached in the
	// background before the store uses it (the node checks the key id of
	// the state there); an error keeps the store down and is retried.
	Verify func(ctx context.Context) error
	// KeyIDInterval is how often a store told to keep a key id
	// (KeepKeyID) checks that it is still recorded; default 1s. A store
	// whose server lost its data (restarted without persistence, flushed,
	// failed over to an empty replica) is also checked at once.
	KeyIDInterval time.Duration

	// Logger receives background write failures, rate limited; default
	// none.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "rg:"
	}
	if o.ProfileTTL <= 0 {
		o.ProfileTTL = 180 * 24 * time.Hour
	}
	if o.AttemptWindow <= 0 {
		o.AttemptWindow = 10 * time.Minute
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = 30 * time.Minute
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Millisecond
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = time.Second
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1024
	}
	if o.MaxBacklog <= 0 {
		o.MaxBacklog = 256
	}
	o.MaxBacklog = min(o.MaxBacklog, 1<<16-1)
	if o.CompactBacklog <= 0 {
		o.CompactBacklog = 8
	}
	o.CompactBacklog = min(o.CompactBacklog, o.MaxBacklog)
	if o.SmallSet <= 0 {
		o.SmallSet = defaultSmallSet
	}
	if o.TenantFlushInterval <= 0 {
		o.TenantFlushInterval = 200 * time.Millisecond
	}
	if o.KeyIDInterval <= 0 {
		o.KeyIDInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the Redis engine.Store. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	ownsRDB bool
	opts    Options
	keys    keyspace
	lib     library
	wb      writeBehind
	stats   stats
	tenants tenants
	co      coalescer
	ttl     ttlMemo
	// cluster: items are grouped by hash slot, one script call per slot;
	// otherwise one call carries them all.
	cluster bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
	up        atomic.Bool    // the server answered and the scripts are loaded
	connector sync.WaitGroup // the background connection, with Options.Background
	where     string         // the server, for the log (its URL without a password)
	keeper    keyIDKeeper    // keyid.go
	logged    atomic.Int64   // unix nanos of the last background error logged
}

// New connects to Redis, checks that it answers, loads the scripts and
// starts the background flusher. ctx bounds the connection check.
func New(ctx context.Context, opts Options) (*Store, error) {
	opts.defaults()
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redisstore: key prefix %q must not contain '{' or '}'", opts.KeyPrefix)
	}
	s := &Store{opts: opts, keys: keyspace{prefix: opts.KeyPrefix}, lib: newLibrary(opts.SmallSet), stop: make(chan struct{}), done: make(chan struct{})}
	s.wb.init(opts.MaxQueue)
	s.keeper.lost = make(chan struct{}, 1)
	s.tenants.init(opts.TenantFlushInterval)
	s.ttl.init(opts.ProfileTTL)
	where := "the given client"
	s.where = where
	if opts.Client != nil {
		s.rdb = opts.Client
	} else {
		if opts.URL == "" {
			return nil, errors.New("redisstore: no URL")
		}
		where = Redact(opts.URL)
		s.where = where
		rdb, err := newClient(&opts)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", where, err)
		}
		s.rdb, s.ownsRDB = rdb, true
	}
	_, s.cluster = s.rdb.(*redis.ClusterClient)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*opts.DialTimeout+5*time.Second)
		defer cancel()
	}
	fail := func(err error) (*Store, error) {
		if s.ownsRDB {
			_ = s.rdb.Close()
		}
		return nil, fmt.Errorf("redisstore: cannot use Redis at %s: %w", where, s.classify(err))
	}
	if err := s.connect(ctx, false); err != nil {
		if !opts.Background || !errors.Is(s.classify(err), engine.ErrUnavailable) {
			return fail(err)
		}
		s.opts.Logger.Warn("redisstore: Redis cannot be used yet; deciding without state and connecting in the background",
			"store", where, "err", s.classify(err))
		s.connector.Add(1)
		go func() {
			defer s.connector.Done()
			s.connectLoop()
		}()
	}
	go s.flusher()
	return s, nil
}

// connect checks that the server answers, loads the scripts and, in the
// background, runs Options.Verify; the store is up once it returns nil.
func (s *Store) connect(ctx context.Context, verify bool) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	if err := s.lib.load(ctx, s.rdb); err != nil {
		return err
	}
	if verify && s.opts.Verify != nil {
		if err := s.opts.Verify(ctx); err != nil {
			return err
		}
	}
	s.up.Store(true)
	return nil
}

// connectLoop connects in the background, backing off from 250ms to 5s
// between tries, until the store is up or closed.
func (s *Store) connectLoop() {
	where := s.where
	wait := 250 * time.Millisecond
	for {
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout+s.opts.FlushTimeout+time.Second)
		err := s.connect(ctx, true)
		cancel()
		if err == nil {
			s.opts.Logger.Info("redisstore: connected; decisions use state again", "store", where)
			return
		}
		s.logBackground("redisstore: still connecting in the background", s.classify(err))
		wait = min(2*wait, 5*time.Second)
	}
}

// Up reports whether the store is in use: the server answered at
// start-up, or a background connection succeeded since.
func (s *Store) Up() bool { return s.up.Load() }

// usable is the error of a call that cannot go to the server: the store
// is closed, or not connected yet.
func (s *Store) usable(op string) error {
	switch {
	case s.closed.Load():
		return fmt.Errorf("redisstore: %s: %w", op, errClosed)
	case !s.up.Load():
		if s.keeper.down.Load() {
			return fmt.Errorf("redisstore: %s: %w", op, errKeyIDChanged)
		}
		return fmt.Errorf("redisstore: %s: %w", op, errNotConnected)
	}
	return nil
}

// Client returns the underlying go-redis client, for instrumentation
// (hooks, pool statistics). Do not close it.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Close flushes buffered writes, stops the flusher and closes the
// connections (unless the client was given in Options). ctx bounds the
// flush.
func (s *Store) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		s.connector.Wait()
		s.keeper.wait()
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		// Writes queued before Close are flushed; later calls fail.
		s.closed.Store(true)
		for err == nil && s.wb.pending() {
			err = s.flush(ctx)
		}
		if err == nil {
			err = s.flushTenants(ctx, true)
		}
		if s.ownsRDB {
			if cerr := s.rdb.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			err = fmt.Errorf("redisstore: close: %w", err)
		}
	})
	return err
}

var (
	errClosed       = fmt.Errorf("%w: redisstore: closed", engine.ErrUnavailable)
	errNotConnected = fmt.Errorf("%w: redisstore: not connected yet", engine.ErrUnavailable)
	errKeyIDChanged = fmt.Errorf("%w: redisstore: the state's key id is not this node's (deciding without state until they match)", engine.ErrUnavailable)
)

// clientConfig is what a URL selects: one of the three kinds of client,
// with its options.
type clientConfig struct {
	kind     string // "single", "cluster" or "sentinel"
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

func (c *clientConfig) client() redis.UniversalClient {
	switch c.kind {
	case "cluster":
		return redis.NewClusterClient(c.cluster)
	case "sentinel":
		return redis.NewFailoverClient(c.failover)
	}
	return redis.NewClient(c.single)
}

func newClient(o *Options) (redis.UniversalClient, error) {
	c, err := parseConfig(o)
	if err != nil {
		return nil, err
	}
	return c.client(), nil
}

// parseConfig reads the URL with go-redis's parser for its kind and
// applies the options over it.
func parseConfig(o *Options) (*clientConfig, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		// url's error would echo the password.
		return nil, errors.New("invalid URL" + URLHint)
	}
	if u.Fragment != "" || strings.Contains(o.URL, "#") {
		// A Redis URL has no fragment: a '#' is a password's, which cut
		// the URL short there (the rest may even parse, as another host).
		return nil, errors.New("invalid URL: it holds a '#'" + URLHint)
	}
	q := u.Query()
	c := &clientConfig{kind: "single"}
	switch u.Scheme {
	case "redis+cluster", "rediss+cluster":
		c.kind = "cluster"
	case "redis+sentinel", "rediss+sentinel":
		c.kind = "sentinel"
	default:
		switch {
		case q.Has("master_name"):
			c.kind = "sentinel"
		case q.Has("addr"):
			c.kind = "cluster"
		}
	}
	if i := strings.IndexByte(u.Scheme, '+'); i >= 0 {
		u.Scheme = u.Scheme[:i]
	}
	raw := u.String()
	// The options common to the three kinds, wherever they live.
	var (
		cte               *bool
		maxRetries, pool  *int
		dialRetries       *int
		dial, read, write *time.Duration
		lifetime          *time.Duration
		tlsConfig         **tls.Config
	)
	switch c.kind {
	case "cluster":
		co, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, scrub(err, u)
		}
		c.cluster = co
		cte, maxRetries, dialRetries, pool, dial, read, write, lifetime, tlsConfig = &co.ContextTimeoutEnabled, &co.MaxRetries, &co.DialerRetries, &co.PoolSize, &co.DialTimeout, &co.ReadTimeout, &co.WriteTimeout, &co.ConnMaxLifetime, &co.TLSConfig
	case "sentinel":
		fo, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, scrub(err, u)
		}
		if fo.MasterName == "" {
			return nil, errors.New("a sentinel URL needs master_name")
		}
		c.failover = fo
		cte, maxRetries, dialRetries, pool, dial, read, write, lifetime, tlsConfig = &fo.ContextTimeoutEnabled, &fo.MaxRetries, &fo.DialerRetries, &fo.PoolSize, &fo.DialTimeout, &fo.ReadTimeout, &fo.WriteTimeout, &fo.ConnMaxLifetime, &fo.TLSConfig
	default:
		ro, err := redis.ParseURL(raw)
		if err != nil {
			return nil, scrub(err, u)
		}
		c.single = ro
		cte, maxRetries, dialRetries, pool, dial, read, write, lifetime, tlsConfig = &ro.ContextTimeoutEnabled, &ro.MaxRetries, &ro.DialerRetries, &ro.PoolSize, &ro.DialTimeout, &ro.ReadTimeout, &ro.WriteTimeout, &ro.ConnMaxLifetime, &ro.TLSConfig
	}
	// Deadlines come from the caller's context: the engine's StoreTimeout.
	*cte = true
	switch {
	case o.MaxRetries != 0:
		*maxRetries = o.MaxRetries
	case !q.Has("max_retries"):
		*maxRetries = -1
	}
	// One dial per call: a refused connection is not worth a 100ms backoff
	// inside a budget of tens of milliseconds; the pool probes in the
	// background until the server is back.
	if !q.Has("dialer_retries") {
		*dialRetries = 1
	}
	timeout := func(v *time.Duration, opt time.Duration, name string, def time.Duration) {
		switch {
		case opt != 0:
			*v = opt
		case !q.Has(name):
			*v = def
		}
	}
	timeout(dial, o.DialTimeout, "dial_timeout", 2*time.Second)
	timeout(read, o.ReadTimeout, "read_timeout", max(time.Second, o.MinReadTimeout))
	timeout(write, o.WriteTimeout, "write_timeout", time.Second)
	if o.PoolSize > 0 {
		*pool = o.PoolSize
	}
	if o.TLSConfig != nil {
		*tlsConfig = o.TLSConfig
	}
	if o.RootCAs != nil || o.ClientCert != nil {
		if *tlsConfig == nil {
			return nil, errors.New("a CA or client certificate needs TLS: a rediss:// URL")
		}
		if o.RootCAs != nil && (*tlsConfig).InsecureSkipVerify {
			return nil, errors.New("skip_verify=true would ignore the CA given: drop one of them")
		}
		d := &tlsDialer{base: *tlsConfig, cas: o.RootCAs, cert: o.ClientCert, net: net.Dialer{Timeout: *dial}}
		// go-redis keeps a connection for good, and Redis never checks a
		// connected client again: without a lifetime, a client
		// certificate or CA re-read (a rotation, a key thought leaked)
		// would reach Redis only as connections happen to be replaced.
		if !q.Has("conn_max_lifetime") {
			*lifetime = TLSConnLifetime
		}
		switch {
		case c.cluster != nil:
			c.cluster.Dialer = d.dial
		case c.failover != nil:
			c.failover.Dialer = d.dial
		default:
			c.single.Dialer = d.dial
		}
	}
	return c, nil
}

// TLSConnLifetime is how long a connection made with RootCAs or
// ClientCert is used, unless the URL sets conn_max_lifetime: the bound on
// how long the files in force before a re-read are still what Redis
// knows this node by. A new connection costs a TLS handshake, an hour
// apart for each.
const TLSConnLifetime = time.Hour

// tlsDialer makes each connection with the CAs and client certificate in
// force, over the TLS configuration go-redis would use (its server name,
// skip_verify), which it otherwise keeps for good.
type tlsDialer struct {
	base *tls.Config
	cas  *tlsfiles.CAs
	cert *tlsfiles.KeyPair
	net  net.Dialer
}

func (d *tlsDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	cfg := d.base.Clone()
	tlsfiles.Apply(cfg, d.cas, d.cert)
	return (&tls.Dialer{NetDialer: &d.net, Config: cfg}).DialContext(ctx, network, addr)
}

// URLHint ends the message of a URL that does not parse: most often a
// password holding a character the URL syntax gives a meaning to. The
// password itself is never shown.
const URLHint = "; special characters in the password must be percent-encoded (%23 for #, %40 for @, %2F for /, %3F for ?, %25 for %)"

// scrub removes the URL's password from a parse error.
func scrub(err error, u *url.URL) error {
	msg := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	for _, k := range []string{"password", "sentinel_password"} {
		if p := u.Query().Get(k); p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return errors.New(msg)
}

// Redact returns the URL with its passwords (in the user info or in
// password query options) replaced, for messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || strings.Contains(raw, "#") {
		// A '#' is a password's (a Redis URL has no fragment): parsed,
		// the URL reads the password as a host, port or fragment, which
		// url's redaction would show.
		return "(unparsable URL)"
	}
	q := u.Query()
	changed := false
	for _, k := range []string{"password", "sentinel_password"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// classify wraps err in engine.ErrUnavailable when it means the state
// could not be reached: a network error, a timeout, a closed client, or a
// server that is loading, failing over, out of its cluster, or refusing
// writes (out of memory under noeviction, or a failed snapshot). A caller's
// cancellation and errors in the data are returned as they are.
func (s *Store) classify(err error) error {
	if err == nil || errors.Is(err, engine.ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !isNetErr(err) {
		for _, p := range []string{"LOADING", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "READONLY", "BUSY", "NOREPLICAS", "MOVED", "ASK", "OOM", "MISCONF"} {
			if redis.HasErrorPrefix(err, p) {
				return fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
			}
		}
		return err
	}
	return fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed)
}

func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w", op, s.classify(err))
}

// stats count what happens to buffered writes.
type stats struct {
	flushes, dropped, writeErrors, compactions atomic.Uint64
	keyIDRestored, keyIDChanged                atomic.Uint64
}

// Stats are counters of the write-behind buffer.
type Stats struct {
	Flushes     uint64 // background or synchronous flushes sent
	Dropped     uint64 // buffered writes lost because their pipeline failed
	WriteErrors uint64 // buffered writes the server refused
	Compactions uint64 // learned logins folded into profiles by this Store
	// KeyIDRestored counts the times the key id this Store keeps
	// (KeepKeyID) was gone from the server and recorded again;
	// KeyIDChanged the times another one was found in its place.
	KeyIDRestored, KeyIDChanged uint64
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Flushes: s.stats.flushes.Load(), Dropped: s.stats.dropped.Load(),
		WriteErrors: s.stats.writeErrors.Load(), Compactions: s.stats.compactions.Load(),
		KeyIDRestored: s.stats.keyIDRestored.Load(), KeyIDChanged: s.stats.keyIDChanged.Load(),
	}
}

// logBackground logs a failure of a write nobody waits for, at most every
// ten seconds.
func (s *Store) logBackground(msg string, err error) {
	now := time.Now().UnixNano()
	last := s.logged.Load()
	if now-last < int64(10*time.Second) || !s.logged.CompareAndSwap(last, now) {
		return
	}
	s.opts.Logger.Warn(msg, "err", err)
}
