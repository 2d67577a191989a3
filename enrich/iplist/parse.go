package iplist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/riskgate/riskgate/internal/excerpt"
	"github.com/riskgate/riskgate/internal/filesnap"
)

// maxLine bounds a line of a list file: a CIDR is at most 43 bytes, the
// rest is room for a comment.
const maxLine = 4096

// ParseLine parses one line of an address list: a CIDR prefix
// ("192.0.2.0/24", "2001:db8::/32") or a single address (a /32 or /128),
// optionally followed by a "#" comment. Blank and comment-only lines give
// ok == false. A prefix with host bits set is masked ("10.1.2.3/8" is
// 10.0.0.0/8); IPv4-mapped IPv6 addresses are their IPv4 address.
func ParseLine(line string) (p netip.Prefix, ok bool, err error) {
	p, _, ok, err = parseLine(line)
	return p, ok, err
}

// parseLine is ParseLine, saying whether the prefix had host bits set
// (masked): "81.2.69.1/2", a typo for /24, is 64.0.0.0/2, a quarter of
// the IPv4 space, which the loader warns of.
func parseLine(line string) (p netip.Prefix, masked, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimSpace(line)
	if s == "" {
		return netip.Prefix{}, false, false, nil
	}
	if strings.ContainsAny(s, " \t") {
		return netip.Prefix{}, false, false, fmt.Errorf("one address or CIDR per line, got %s", excerpt.Quote(s))
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, false, false, fmt.Errorf("%s: zoned addresses are not routable", excerpt.Quote(s))
	}
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false, false, fmt.Errorf("not a CIDR prefix: %s", excerpt.Quote(s))
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), p != p.Masked(), true, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if isRange(s) {
			return netip.Prefix{}, false, false, fmt.Errorf("%s: ranges are not supported, write CIDR prefixes", excerpt.Quote(s))
		}
		return netip.Prefix{}, false, false, fmt.Errorf("not an IP address or CIDR prefix: %s", excerpt.Quote(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), false, true, nil
}

// isRange reports whether s is two addresses joined by a '-': a range,
// which deserves its own message; a hyphenated name ("not-an-address",
// "vpn-gw1") is just not an address.
func isRange(s string) bool {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, errLo := netip.ParseAddr(strings.TrimSpace(lo))
	_, errHi := netip.ParseAddr(strings.TrimSpace(hi))
	return errLo == nil && errHi == nil
}

// ParseASN parses one line of an ASN list: a number, with or without an
// "AS" prefix ("16509", "AS16509"), optionally followed by a "#" comment.
func ParseASN(line string) (asn uint32, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimSpace(line)
	if s == "" {
		return 0, false, nil
	}
	num := s
	if len(num) > 2 && (num[0] == 'A' || num[0] == 'a') && (num[1] == 'S' || num[1] == 's') {
		num = num[2:]
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("not an AS number: %s", excerpt.Quote(s))
	}
	return uint32(n), true, nil
}

// readLines calls f with every line of the file at path, and wraps f's
// error with the file and line number. It returns the file's stat as it
// was opened.
func readLines(path string, f func(line string) error) (os.FileInfo, error) {
	fh, fi, err := filesnap.OpenRegular(path) // a FIFO must not block
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return fi, scanLines(path, fh, f)
}

func scanLines(name string, r io.Reader, f func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxLine), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := f(sc.Text()); err != nil {
			if excerpt.Binary(sc.Text()) {
				// A binary file (a gzip'd list, a database) fails at
				// its first line: say what it is, not only what the
				// line is not.
				return fmt.Errorf("%s:%d: %s: %w", name, n, excerpt.BinaryNote, err)
			}
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, n+1, maxLine)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
