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
// a hit says how common the password is. Files are memory-mapped read-only,
// so a multi-gigabyte filter is usable in milliseconds and shared between
// processes through the page cache; see format.go for the layout and what is
// checked when.
//
// Build reads HIBP `SHA1HEX:COUNT` dumps and plain password lists (optionally
// gzip-compressed) in parallel. Default returns a small filter of common
// passwords embedded in the binary, so that a server with no configuration
// still refuses "123456".
//
// Filter files are little-endian, like every platform Go ships for servers;
// a big-endian host would read garbage words.
package breached
