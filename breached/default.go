package breached

import (
	_ "embed"
	"fmt"
)

// The embedded filter: ~49k most common passwords from
// @zxcvbn-ts/language-common (MIT). See data/README.md for its provenance and
// how to regenerate it.
//
//go:generate go run ./internal/gen -tgz ${ZXCVBN_TGZ} -out data/common-passwords.rgbf
//go:embed data/common-passwords.rgbf
var commonPasswords []byte

// Default returns the embedded common-password filter. Each call returns a new
// Filter over the same read-only bytes; Close is optional.
func Default() (*Filter, error) {
	f, err := Load(commonPasswords)
	if err != nil {
		return nil, fmt.Errorf("breached: embedded default filter: %w", err)
	}
	return f, nil
}
