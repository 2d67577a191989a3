package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"time"

	"github.com/riskgate/riskgate/api/client"
)

// riskgateTarget is where the examples find riskgate: your deployment's
// gRPC address (TestMain points it at a riskgate it started).
var riskgateTarget = "127.0.0.1:9090"

// A login scored at both points: before the password check, to stop a
// stuffing run before any password hash is computed, and after it, with
// the result. The decision after the check is the one the login acts on.
func Example() {
	rg, err := client.New(client.Options{
		Target:   riskgateTarget,
		Failover: client.StepUp, // when riskgate cannot answer: ask for the second factor
		Tenant:   "example",
		Timeout:  time.Second, // each call's budget, retries included; default 50ms
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rg.Close()
	ctx := context.Background()

	typed := "correct horse battery staple" // from the login form
	attempt := client.Attempt{
		UserID:    "u-42",
		Username:  "alice@example.com",
		IP:        "81.2.69.160", // the browser's address, not your proxy's
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		DeviceID:  "cookie-7f3a", // a long-lived cookie you set
		Password:  client.HashPassword(typed),
	}

	before, _ := rg.BeforePassword(ctx, attempt) // the error only says why a failover happened
	if before.Action == client.Deny {
		fmt.Println("refused before the password check")
		return
	}
	passwordOK := typed == "correct horse battery staple" // your password check
	result := client.PasswordBad
	if passwordOK {
		result = client.PasswordOK
	}
	d, _ := rg.AfterPassword(ctx, attempt, result)
	switch {
	case !passwordOK:
		_ = rg.LoginFailed(ctx, d) // a failover's failure counts only once reported
		fmt.Println("wrong password")
	case d.Action == client.Deny:
		fmt.Println("refused")
	case d.Action == client.StepUp:
		fmt.Println("ask for a one-time code, then report StepUpPassed or StepUpFailed")
	default:
		_ = rg.LoginSucceeded(ctx, d)
		fmt.Println("signed in; failover:", d.Failover)
	}
	// Output: signed in; failover: false
}

// When riskgate cannot be reached, every call still returns at once with
// the failover action, marked as such; after a few failed calls (here 2,
// each sent twice: a refused connection is retried) the circuit
// opens and riskgate is not even tried.
func ExampleClient_BeforePassword_failover() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := l.Addr().String()
	l.Close() // nothing listens there any more

	rg, err := client.New(client.Options{
		Target:   down,
		Failover: client.StepUp,
		Timeout:  time.Second, // a refusal comes at once, whatever the budget
		Breaker:  client.BreakerOptions{Failures: 2},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rg.Close()
	for range 3 {
		d, err := rg.BeforePassword(context.Background(), client.Attempt{Username: "bob", IP: "203.0.113.9"})
		fmt.Println(d.Action, d.Failover, d.Cause, err != nil)
	}
	s := rg.Stats()
	fmt.Println("failovers:", s.FailoverTotal(), "breaker:", rg.Breaker())
	// Output:
	// step_up true unavailable true
	// step_up true unavailable true
	// step_up true circuit_open true
	// failovers: 3 breaker: open
}

// The typed password is hashed in the process; the hash is sent to
// riskgate and shows nowhere else.
func ExampleHashPassword() {
	p := client.HashPassword("hunter2")
	a := client.Attempt{Username: "carol", IP: "203.0.113.9", Password: p}
	fmt.Printf("%v\n%x\n", a.Password, p)
	slog.New(slog.NewTextHandler(stdout{}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("login", "password", p)
	// Output:
	// [password-sha1 redacted]
	// [password-sha1 redacted]
	// level=INFO msg=login password="[password-sha1 redacted]"
}

// Outcomes teach riskgate the user's baseline. The helpers send only what
// riskgate waits for: here the step-up's result.
func ExampleClient_StepUpPassed() {
	rg, err := client.New(client.Options{Target: riskgateTarget, Failover: client.Deny, Tenant: "example-outcomes", Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer rg.Close()
	ctx := context.Background()
	home := client.Attempt{UserID: "u-7", Username: "dan", IP: "81.2.69.160", DeviceID: "laptop",
		Geo: &client.GeoHint{Country: "GB"}} // a CDN's country header
	d, _ := rg.AfterPassword(ctx, home, client.PasswordOK)
	fmt.Println("first login:", d.Action, "awaits outcome:", d.AwaitsOutcome())

	phone := home
	phone.DeviceID, phone.IP, phone.Geo = "new-phone", "126.1.2.3", &client.GeoHint{Country: "JP"}
	d, _ = rg.AfterPassword(ctx, phone, client.PasswordOK)
	fmt.Println("new device:", d.Action, "awaits outcome:", d.AwaitsOutcome(), "notify once passed:", d.Notify)
	if err := rg.StepUpPassed(ctx, d); err != nil { // the user typed the code we sent
		log.Fatal(err)
	}
	d, _ = rg.AfterPassword(ctx, phone, client.PasswordOK)
	fmt.Println("same phone again:", d.Action)
	// Output:
	// first login: allow awaits outcome: false
	// new device: step_up awaits outcome: true notify once passed: [new_device new_country]
	// same phone again: allow
}

type stdout struct{}

func (stdout) Write(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }
