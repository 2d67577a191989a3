// Package hibpgen writes synthetic Pwned Passwords downloads, in both
// layouts of the official haveibeenpwned-downloader: a folder of range
// files 00000.txt … FFFFF.txt holding "SUFFIX:COUNT" lines (upper-case hex,
// CRLF, no line end after the last line, as the API answers), and a single
// file of "SHA1:COUNT" lines. The hashes are random (seeded), sorted within
// each range like the real files, with heavy-tailed counts; chosen
// passwords can be planted so tests know what must be found.
package hibpgen

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Options describe a download.
type Options struct {
	// Ranges is how many range files to write, from 00000 up (default all
	// 1,048,576).
	Ranges int
	// Lines is the total number of hash lines over all ranges.
	Lines int
	// Seed makes the content reproducible.
	Seed uint64
	// Plant puts these passwords' hashes in their ranges, with the count
	// given; their ranges are written even beyond Ranges.
	Plant map[string]uint64
	// Padding adds this many ":0" padding lines per range, as the API
	// does when asked to pad.
	Padding int
	// LF writes '\n' line ends instead of CRLF.
	LF bool
}

// Line is one generated entry.
type Line struct {
	Sum   [20]byte
	Count uint64
}

// Ranges generates the entries of each range, sorted by hash.
func (o Options) ranges(emit func(prefix int, lines []Line) error) error {
	n := o.Ranges
	if n == 0 {
		n = 1 << 20
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x4849_4250))
	planted := map[int][]Line{}
	for pw, c := range o.Plant {
		s := sha1.Sum([]byte(pw))
		p := int(s[0])<<12 | int(s[1])<<4 | int(s[2]>>4)
		planted[p] = append(planted[p], Line{s, c})
	}
	var extra []int
	for p := range planted {
		if p >= n {
			extra = append(extra, p)
		}
	}
	slices.Sort(extra)
	var buf []Line
	for i := range n + len(extra) {
		p, k := i, 0
		if i < n {
			k = o.Lines / n
			if p < o.Lines%n {
				k++
			}
		} else {
			p = extra[i-n]
		}
		buf = buf[:0]
		for range k {
			var l Line
			v := [3]uint64{r.Uint64(), r.Uint64(), r.Uint64()}
			for i := range 20 {
				l.Sum[i] = byte(v[i/8] >> (8 * (i % 8)))
			}
			l.Sum[0], l.Sum[1] = byte(p>>12), byte(p>>4)
			l.Sum[2] = byte(p&0xf)<<4 | l.Sum[2]&0xf
			u := r.Float64()
			l.Count = max(uint64(1/(u*u+1e-9)), 1)
			buf = append(buf, l)
		}
		for range o.Padding {
			var l Line
			v := [3]uint64{r.Uint64(), r.Uint64(), r.Uint64()}
			for i := range 20 {
				l.Sum[i] = byte(v[i/8] >> (8 * (i % 8)))
			}
			l.Sum[0], l.Sum[1] = byte(p>>12), byte(p>>4)
			l.Sum[2] = byte(p&0xf)<<4 | l.Sum[2]&0xf
			buf = append(buf, l)
		}
		buf = append(buf, planted[p]...)
		slices.SortFunc(buf, func(a, b Line) int { return slices.Compare(a.Sum[:], b.Sum[:]) })
		if err := emit(p, buf); err != nil {
			return err
		}
	}
	return nil
}

// WriteFolder writes range files into dir, as `haveibeenpwned-downloader
// DIR -s false` does.
func WriteFolder(dir string, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	eol := "\r\n"
	if o.LF {
		eol = "\n"
	}
	var b []byte
	var hx [40]byte
	return o.ranges(func(p int, lines []Line) error {
		b = b[:0]
		for i, l := range lines {
			if i > 0 {
				b = append(b, eol...)
			}
			hex.Encode(hx[:], l.Sum[:])
			b = append(b, upper(hx[5:])...)
			b = append(b, ':')
			b = strconv.AppendUint(b, l.Count, 10)
		}
		return os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05X.txt", p)), b, 0o644)
	})
}

// WriteSingle writes one file of "SHA1:COUNT" lines, as the downloader's
// default single-file mode does (it ends every line).
func WriteSingle(path string, o Options) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	eol := "\r\n"
	if o.LF {
		eol = "\n"
	}
	var hx [40]byte
	err = o.ranges(func(_ int, lines []Line) error {
		for _, l := range lines {
			hex.Encode(hx[:], l.Sum[:])
			w.Write(upper(hx[:]))
			w.WriteByte(':')
			w.WriteString(strconv.FormatUint(l.Count, 10))
			w.WriteString(eol)
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Entries returns the entries WriteFolder and WriteSingle write for o, for
// tests that check every one.
func Entries(o Options) []Line {
	var out []Line
	_ = o.ranges(func(_ int, lines []Line) error { out = append(out, lines...); return nil })
	return out
}

func upper(b []byte) []byte {
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 32
		}
	}
	return b
}
