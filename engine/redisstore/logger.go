package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetLogger routes go-redis's own log lines (a connection pool that
// cannot dial, a connection dropped with unread data) to logger, as
// warnings of component "go-redis", so that a JSON log has no plain-text
// lines. go-redis keeps one logger for the whole process: the last call
// wins. Each kind of line (its format) is logged at most once per 10
// seconds, with the number left out since, so an outage under load does
// not flood the log.
func SetLogger(logger *slog.Logger) {
	if logger == nil {
		return
	}
	redis.SetLogger(&slogAdapter{log: logger, every: 10 * time.Second, last: map[string]*lineState{}})
}

type lineState struct {
	at         time.Time
	suppressed int
}

// slogAdapter is go-redis's Logging over slog, rate limited per format.
type slogAdapter struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	last map[string]*lineState
}

func (a *slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now()
	a.mu.Lock()
	st := a.last[format]
	if st == nil {
		if len(a.last) >= 256 { // formats are the library's constants; bound it anyway
			clear(a.last)
		}
		st = &lineState{}
		a.last[format] = st
	}
	if !st.at.IsZero() && now.Sub(st.at) < a.every {
		st.suppressed++
		a.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.at, st.suppressed = now, 0
	a.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	attrs := []any{"component", "go-redis"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	a.log.WarnContext(ctx, "redis: "+msg, attrs...)
}
