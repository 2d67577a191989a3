//go:build !unix

package alert

import (
	"io/fs"
	"os"
)

// unlinked cannot tell a removed file from a renamed one here: the lines
// written to a removed alert file since the last check are not copied.
func unlinked(fs.FileInfo) bool { return false }

// readerOf reads nothing here (unlinked cannot tell when to).
func readerOf(string, *os.File) *os.File { return nil }
