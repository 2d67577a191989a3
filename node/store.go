package node

import (
	"context"
	"fmt"
	"time"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/redisstore"
)

// redisStoreTimeout bounds every Redis call when the config sets no
// --store-timeout: a login must not wait on a slow network store.
const redisStoreTimeout = 50 * time.Millisecond

// openStore opens the state store the config names, or takes the one
// given, with its readiness check, and returns the bound on its calls:
// the config's, else none in the process and redisStoreTimeout for Redis.
func (n *Node) openStore(ctx context.Context) (time.Duration, error) {
	timeout := n.cfg.StoreTimeout
	if n.set.store != nil {
		n.store = n.set.store
		n.checks = append(n.checks, storeCheck(n.store))
		return timeout, nil
	}
	if n.cfg.memoryStore() {
		opts := n.cfg.Memory.storeOptions()
		opts.AttemptWindow = n.cfg.AttemptWindow
		ms := memstore.New(opts)
		n.store = ms
		n.onCloseCtx("memory store", ms.Close)
		n.checks = append(n.checks, storeCheck(ms))
		return timeout, nil
	}
	if timeout == 0 {
		timeout = redisStoreTimeout
	}
	rs, err := redisstore.New(ctx, redisstore.Options{URL: n.cfg.Store, Logger: n.log, AttemptWindow: n.cfg.AttemptWindow})
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", redisstore.Redact(n.cfg.Store), err)
	}
	n.store = rs
	n.onCloseCtx("redis store", rs.Close)
	n.collect(rs.Collector())
	n.checks = append(n.checks, storeCheck(rs))
	return timeout, nil
}

// storeCheck is the readiness check of a store: a ping where the store
// can be pinged (Redis), always ready where it is in the process.
func storeCheck(s any) server.Check {
	p, ok := s.(interface{ Ping(context.Context) error })
	if !ok {
		return server.Check{Name: "store", Check: func(context.Context) error { return nil }}
	}
	return server.Check{Name: "store", Check: p.Ping}
}
