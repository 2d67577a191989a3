package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

// engineFlags are the flags of every command that builds an engine.
type engineFlags struct {
	Rules          []string `help:"Rule files or folders (default: the embedded rules)." placeholder:"PATH" env:"RISKGATE_RULES" sep:","`
	HMACSecretFile string   `help:"File holding the secret that keys stored identifiers (at least 16 bytes). Default: RISKGATE_HMAC_SECRET, else a random secret (fine for in-memory state, which dies with the process)." placeholder:"FILE" env:"RISKGATE_HMAC_SECRET_FILE"`
	MaxSpeed       float64  `help:"Speed (km/h) above which travel between two logins is impossible." default:"1000"`

	geoFlags      `embed:"" yaml:"geoip"` // the config file's geoip: block
	passwordFlags `embed:""`
}

// built is an engine and what it was built from.
type built struct {
	engine *engine.Engine
	rules  *rules.Holder
	close  []func()
}

func (b *built) Close() {
	for i := len(b.close) - 1; i >= 0; i-- {
		b.close[i]()
	}
}

// loadRules compiles the rule files, or the embedded default.
func (f *engineFlags) loadRules() (*rules.Set, error) {
	if len(f.Rules) == 0 {
		return rules.Default()
	}
	srcs, err := rules.LoadFiles(f.Rules...)
	if err != nil {
		return nil, err
	}
	return rules.Compile(srcs...)
}

// secret returns the HMAC secret. requireStable refuses a random one, for
// stores that outlive the process.
func (f *engineFlags) secret(requireStable bool) ([]byte, error) {
	if f.HMACSecretFile != "" {
		b, err := os.ReadFile(f.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("hmac secret: %w", err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) < engine.MinSecretLen {
			return nil, fmt.Errorf("hmac secret in %s: shorter than %d bytes", f.HMACSecretFile, engine.MinSecretLen)
		}
		return b, nil
	}
	if s := os.Getenv("RISKGATE_HMAC_SECRET"); s != "" {
		if len(s) < engine.MinSecretLen {
			return nil, fmt.Errorf("RISKGATE_HMAC_SECRET: shorter than %d bytes", engine.MinSecretLen)
		}
		return []byte(s), nil
	}
	if requireStable {
		return nil, errors.New("hmac secret: a persistent store needs a stable secret: set --hmac-secret-file or RISKGATE_HMAC_SECRET")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b, nil
}

// build wires an engine on store from the flags.
func (f *engineFlags) build(ctx context.Context, store engine.Store, stableSecret bool, log *slog.Logger, extra func(*engine.Options)) (*built, error) {
	b := &built{}
	set, err := f.loadRules()
	if err != nil {
		return nil, err
	}
	b.rules = rules.NewHolder(set)
	secret, err := f.secret(stableSecret)
	if err != nil {
		return nil, err
	}
	keyer, note, err := engine.KeyerFor(ctx, store, secret)
	if err != nil {
		return nil, err
	}
	if note != "" {
		log.Info("hmac secret: " + note)
	}
	enrichers, closeGeo, err := f.geoFlags.enrichers(ctx, log)
	if err != nil {
		return nil, err
	}
	if closeGeo != nil {
		b.close = append(b.close, closeGeo)
	}
	check, closePw, err := f.passwordFlags.checker(log)
	if err != nil {
		b.Close()
		return nil, err
	}
	if closePw != nil {
		b.close = append(b.close, closePw)
	}
	opts := engine.Options{
		Store: store, Rules: b.rules, Keyer: keyer, Enrichers: enrichers, Logger: log,
		Signals: signals.Default(signals.Config{MaxSpeedKMH: f.MaxSpeed, Breached: check}),
	}
	if extra != nil {
		extra(&opts)
	}
	b.engine, err = engine.New(opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}
