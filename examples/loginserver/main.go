// Command loginserver is a small login service that puts riskgate in its
// login flow, as a reference for identity servers: it scores each login
// before the password check (refusing credential stuffing before any
// password hash is computed) and after it, asks for a one-time code on
// step_up, refuses on deny, reports outcomes so riskgate learns each
// user's baseline, and tells the account's owner about a sign-in from a
// new device or country.
//
//	go run ./cmd/riskgate serve &
//	go run ./examples/loginserver -user alice@example.com:correct-horse
//	open http://127.0.0.1:8000/
//
// One-time codes and notices are "sent" to the log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/riskgate/riskgate/api/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loginserver:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr       = flag.String("addr", "127.0.0.1:8000", "address to serve the login pages on")
		target     = flag.String("riskgate", "127.0.0.1:9090", "riskgate's gRPC address, or http(s)://host:port for its HTTP API")
		failover   = flag.String("failover", "step_up", "action when riskgate cannot answer: allow, step_up or deny")
		timeout    = flag.Duration("riskgate-timeout", client.DefaultTimeout, "deadline of each call to riskgate")
		tokenFile  = flag.String("riskgate-token-file", "", "file holding riskgate's scoring token, when it needs one")
		trusted    = flag.String("trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For and CF-IP* headers are believed")
		iterations = flag.Int("pbkdf2-iterations", 600_000, "PBKDF2-SHA256 iterations of the password hashes (OWASP 2023: 600000)")
		secure     = flag.Bool("secure-cookies", false, "mark cookies Secure (serve behind HTTPS)")
		accounts   userFlags
	)
	flag.Var(&accounts, "user", "an account, USERNAME:PASSWORD (repeatable)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	action, err := client.ParseAction(*failover)
	if err != nil {
		return fmt.Errorf("-failover: %w", err)
	}
	var token string
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("-riskgate-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	proxies, err := parsePrefixes(*trusted)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	risk, err := client.New(client.Options{Target: *target, Failover: action, Timeout: *timeout, Token: token, Logger: log})
	if err != nil {
		return err
	}
	defer risk.Close()
	u := newUsers(*iterations)
	for i, acct := range accounts {
		if err := u.add(fmt.Sprintf("u-%d", i+1), acct[0], acct[1]); err != nil {
			return err
		}
	}
	if len(accounts) == 0 {
		log.Warn("no accounts: add some with -user NAME:PASSWORD")
	}
	srv := &http.Server{
		Addr: *addr, Handler: newServer(risk, u, logOutbox{log}, log, proxies, *secure).handler(),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("login server listening", "addr", "http://"+*addr, "riskgate", *target, "failover", action.String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// userFlags is the repeatable -user NAME:PASSWORD.
type userFlags [][2]string

func (u *userFlags) String() string { return fmt.Sprint(len(*u), " accounts") }

func (u *userFlags) Set(v string) error {
	name, password, ok := strings.Cut(v, ":")
	if !ok || name == "" || password == "" {
		return errors.New("want USERNAME:PASSWORD")
	}
	*u = append(*u, [2]string{name, password})
	return nil
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
