package main

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
)

// user is an account: a stable id, a login name and a salted password hash.
type user struct {
	ID, Username string
	salt, hash   []byte
}

// users is the account store. A real identity server keeps these in its
// database; the flow around riskgate is the same.
type users struct {
	iterations int
	mu         sync.RWMutex
	byName     map[string]*user
	// checks counts password hashes computed: what a pre-password deny saves.
	checks int64
}

func newUsers(iterations int) *users {
	return &users{iterations: iterations, byName: map[string]*user{}}
}

// normalize is how usernames are compared.
func normalize(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// add creates an account with a PBKDF2-SHA256 password hash.
func (u *users) add(id, username, password string) error {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	hash, err := pbkdf2.Key(sha256.New, password, salt, u.iterations, 32)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byName[normalize(username)] = &user{ID: id, Username: username, salt: salt, hash: hash}
	return nil
}

// lookup finds an account by name without checking a password.
func (u *users) lookup(username string) *user {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.byName[normalize(username)]
}

// check verifies a password. A username that matches no account costs the
// same hash computation, so response times do not tell which exist.
func (u *users) check(username, password string) (*user, bool) {
	u.mu.Lock()
	acct := u.byName[normalize(username)]
	u.checks++
	u.mu.Unlock()
	salt, want := dummySalt[:], dummyHash[:]
	if acct != nil {
		salt, want = acct.salt, acct.hash
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, u.iterations, 32)
	if err != nil || !hmac.Equal(got, want) || acct == nil {
		return acct, false
	}
	return acct, true
}

func (u *users) passwordChecks() int64 {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.checks
}

var dummySalt, dummyHash [32]byte
