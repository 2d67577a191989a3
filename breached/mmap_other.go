//go:build !unix

package breached

import (
	"unsafe"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// mapFile reads the whole file where mmap is not available.
func mapFile(path string) ([]byte, func([]byte) error, error) {
	b, err := filesnap.ReadRegular(path, 0)
	if err != nil {
		return nil, nil, err
	}
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		words := make([]uint64, (len(b)+7)/8)
		aligned := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(b))
		copy(aligned, b)
		b = aligned
	}
	return b, nil, nil
}
