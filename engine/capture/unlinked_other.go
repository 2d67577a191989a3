//go:build !unix

package capture

import "io/fs"

// unlinked cannot tell a removed file from a renamed one here: the lines
// written to a removed file since the last check are not copied.
func unlinked(fs.FileInfo) (gone, known bool) { return false, false }
