package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// message is an e-mail (or push) to an account's owner.
type message struct {
	To      string // the account id
	Kind    string // "code" or "new_sign_in"
	Subject string
	Body    string
	Time    time.Time
}

// outbox delivers messages to users. The demo logs them (that is where you
// read your one-time code); a real server sends e-mail or a push message,
// outside the request, so a slow mail server never slows a login.
type outbox interface {
	send(ctx context.Context, m message)
}

type logOutbox struct{ log *slog.Logger }

func (o logOutbox) send(_ context.Context, m message) {
	o.log.Info("message to user", "to", m.To, "kind", m.Kind, "subject", m.Subject, "body", m.Body)
}

// memOutbox keeps messages, for tests.
type memOutbox struct {
	mu   sync.Mutex
	msgs []message
}

func (o *memOutbox) send(_ context.Context, m message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
}

// to returns the messages an account received, of one kind.
func (o *memOutbox) to(userID, kind string) []message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []message
	for _, m := range o.msgs {
		if m.To == userID && m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// signInNotice is the "new sign-in to your account" message.
func signInNotice(u *user, what, ip, country, browser string, at time.Time) message {
	where := ip
	if country != "" {
		where += " (" + country + ")"
	}
	if browser == "" {
		browser = "an unknown browser"
	}
	return message{
		To: u.ID, Kind: "new_sign_in", Time: at,
		Subject: "New sign-in to your account",
		Body: fmt.Sprintf("Hello %s, your account was signed in to from %s: %s, from %s, at %s. "+
			"If this was you, there is nothing to do. If not, change your password now and sign out everywhere.",
			u.Username, what, browser, where, at.UTC().Format("2 Jan 2006 15:04 MST")),
	}
}
