// Package breached answers "is this password known to be breached?" from the
// SHA-1 of the password, the convention of Have I Been Pwned, without ever
// seeing the password or keeping the hash.
//
// A filter file holds the breached set as a Bloom filter (bits-and-blooms
// /bloom/v3 layout and hashing, sized from the expected count and a target
// false-positive rate, default 1e-6) or as a binary fuse filter
// (FastFilter/xorfilter; static, smaller for the same rate, and a lookup
// touches three words instead of k). Either may be split into nested
// prevalence tiers (for example seen at least 1, 100 and 10000 times) so that
// a hit says how common the password is. A file is served from a private,
// memory-mapped copy (internal/filesnap), verified end to end before use, so
// that a file rewritten or truncated in place can neither fault nor change
// the filter in use; see format.go for the layout and what is checked when.
// A Set checks the embedded common-password list and the operator's files
// together.
//
// Build reads HIBP `SHA1HEX:COUNT` dumps and plain password lists (optionally
// gzip-compressed) in parallel. Default returns a small filter of common
// passwords embedded in the binary, so that a server with no configuration
// still refuses "123456".
//
// Filter files are little-endian, like every platform Go ships for servers;
// a big-endian host would read garbage words.
package breached
