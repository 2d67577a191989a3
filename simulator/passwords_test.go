package simulator

import (
	"crypto/sha1"
	"testing"

	"github.com/riskgate/riskgate/breached"
)

// The users' "common" passwords must really be common: riskgate's
// embedded breached-password filter (the zxcvbn list) holds them all.
func TestCommonPasswordsAreBreached(t *testing.T) {
	f, err := breached.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range commonPasswords {
		if !f.Lookup(sha1.Sum([]byte(pw))).Found {
			t.Errorf("%q is not in the breached-password filter", pw)
		}
	}
}
