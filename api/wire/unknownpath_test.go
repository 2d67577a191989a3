package wire_test

import (
	"errors"
	"testing"

	"github.com/riskgate/riskgate/api/wire"
)

// TestUnknownFieldNamesItsPath: an unknown key inside geo or an outcome's
// attempt is named with its path, not alone; attributes take any key.
func TestUnknownFieldNamesItsPath(t *testing.T) {
	for _, c := range []struct {
		outcome bool
		body    string
		field   string
	}{
		{false, `{"ip":"81.2.69.160","zz":1}`, "zz"},
		{false, `{"ip":"81.2.69.160","geo":{"country":"FR","zz":1}}`, "geo.zz"},
		{false, `{"ip":"81.2.69.160","geo":{"ip":"1.1.1.1"}}`, "geo.ip"},
		{false, `{"ip":"81.2.69.160","attributes":{"zz":"1"},"geo":{"zz":1}}`, "geo.zz"},
		{true, `{"outcome":"login_failed","attempt":{"ip":"81.2.69.160","zz":1}}`, "attempt.zz"},
		{true, `{"outcome":"login_failed","attempt":{"ip":"81.2.69.160","geo":{"password":"x"}}}`, "attempt.geo.password"},
	} {
		var err error
		if c.outcome {
			_, err = wire.DecodeOutcomeJSON([]byte(c.body))
		} else {
			_, err = wire.DecodeAttemptJSON([]byte(c.body))
		}
		var we *wire.Error
		if !errors.As(err, &we) || we.Field != c.field {
			t.Errorf("%s: %v, want field %q", c.body, err, c.field)
		}
	}
}
