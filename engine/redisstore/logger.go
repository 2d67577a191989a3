package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/internal/loglimit"
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
	redis.SetLogger(&slogAdapter{log: logger, limit: loglimit.New(10 * time.Second)})
}

// slogAdapter is go-redis's Logging over slog, rate limited per format.
type slogAdapter struct {
	log   *slog.Logger
	limit *loglimit.Limiter
}

func (a *slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	// The formats are the library's constants: a kind each.
	suppressed, ok := a.limit.Allow(format, time.Now())
	if !ok {
		return
	}
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
