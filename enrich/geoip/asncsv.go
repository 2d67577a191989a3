package geoip

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/riskgate/riskgate/internal/excerpt"
)

// ASN data as CSV: the ip-location-db project (npm @ip-location-db/asn,
// DB-IP, RouteViews and NRO data under their licences) publishes its ASN
// data as headerless CSV, asn-ipv4.csv and asn-ipv6.csv, one range a row:
//
//	1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
//	2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
//
// There is no ASN .mmdb in that family, so users of the free DB-IP Lite
// city database read these files as their --geoip-asn source. A file is
// recognised by its content (or a .csv or .csv.gz name), checked row by
// row (a bad row refuses the whole file with its line), and kept as sorted
// arrays searched by binary search: about 515,000 rows take some 12 MB and
// a lookup does not allocate.

// csvType is the database type reported for a CSV file.
const csvType = "ip-location-db ASN CSV"

// maxCSVRows bounds what a file may hold (the package has ~515,000).
const maxCSVRows = 20_000_000

// asnTable is one CSV file's ranges, IPv4 and IPv6 apart, each sorted by
// start and not overlapping.
type asnTable struct {
	v4     []range4
	v6     []range6
	orgs   []string // interned organisation names
	rows   int
	merged int // rows that started inside the previous one (see add)
}

type range4 struct {
	start, end uint32
	asn        uint32
	org        uint32 // index in orgs
}

type range6 struct {
	start, end [2]uint64 // big-endian halves
	asn        uint32
	org        uint32
}

// looksLikeCSV reports whether head, the first bytes of a file, is text
// whose first field is an IP address followed by a comma: an MMDB file
// starts with its binary search tree.
func looksLikeCSV(path string, head []byte) bool {
	if strings.HasSuffix(path, ".csv") || strings.HasSuffix(path, ".csv.gz") {
		return true
	}
	i := bytes.IndexByte(head, ',')
	if i <= 0 || i > 45 {
		return false
	}
	_, err := netip.ParseAddr(string(head[:i]))
	return err == nil
}

// openASNCSV reads an ASN CSV file's contents (optionally gzip-
// compressed) into a database that serves the ASN role.
func openASNCSV(path string, role Role, data []byte) (*database, error) {
	if role != RoleASN {
		return nil, fmt.Errorf("it is an ASN CSV file (ip-location-db's); %s", role.want())
	}
	var r io.Reader = bytes.NewReader(data)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	t, err := parseASNCSV(r)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	if t.rows == 0 {
		return nil, errors.New("holds no rows")
	}
	// No build time: npm sets every packed file's time to 1985, which
	// would read as a database forty years stale.
	d := &database{path: path, role: role, schema: schemaCSVASN, typ: csvType, ipv4Only: len(t.v6) == 0, csv: t, unmap: func() error { return nil }}
	d.refs.Store(1)
	return d, nil
}

// parseASNCSV reads rows of start,end,asn,org. Errors start with the line
// number ("12: ...") for the caller to prefix with the file's name.
func parseASNCSV(r io.Reader) (*asnTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	t := &asnTable{}
	orgIndex := map[string]uint32{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%d: %v", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("line %d: %w", t.rows+1, err)
		}
		line, _ := cr.FieldPos(0) // only after a successful read: it panics otherwise
		if t.rows++; t.rows > maxCSVRows {
			return nil, fmt.Errorf("%d: more than %d rows", line, maxCSVRows)
		}
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		switch {
		case err1 != nil:
			return nil, fmt.Errorf("%d: range start %s: not an IP address", line, excerpt.Quote(rec[0]))
		case err2 != nil:
			return nil, fmt.Errorf("%d: range end %s: not an IP address", line, excerpt.Quote(rec[1]))
		case start.Zone() != "" || end.Zone() != "":
			return nil, fmt.Errorf("%d: addresses with a zone", line)
		case start.Is4() != end.Is4():
			return nil, fmt.Errorf("%d: range %s to %s mixes IPv4 and IPv6", line, rec[0], rec[1])
		case end.Less(start):
			return nil, fmt.Errorf("%d: range end %s before its start %s", line, rec[1], rec[0])
		case err3 != nil:
			return nil, fmt.Errorf("%d: AS number %s: want an integer from 0 to 4294967295", line, excerpt.Quote(rec[2]))
		case len(rec[3]) > 1024:
			return nil, fmt.Errorf("%d: organisation name of %d bytes", line, len(rec[3]))
		}
		org, ok := orgIndex[rec[3]]
		if !ok {
			org = uint32(len(t.orgs))
			t.orgs = append(t.orgs, strings.Clone(rec[3]))
			orgIndex[t.orgs[org]] = org
		}
		if err := t.add(start, end, uint32(asn), org); err != nil {
			return nil, fmt.Errorf("%d: %w", line, err)
		}
	}
	return t, nil
}

func half(a netip.Addr) [2]uint64 {
	b := a.As16()
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func less6(a, b [2]uint64) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

func dec6(a [2]uint64) [2]uint64 {
	if a[1] == 0 {
		return [2]uint64{a[0] - 1, ^uint64(0)}
	}
	return [2]uint64{a[0], a[1] - 1}
}

func inc6(a [2]uint64) [2]uint64 {
	if a[1] == ^uint64(0) {
		return [2]uint64{a[0] + 1, 0}
	}
	return [2]uint64{a[0], a[1] + 1}
}

// add appends a range. Rows must come in ascending order of start, as the
// package writes them. A row that starts inside the previous range (the
// package has one: a more specific announcement within a larger one) takes
// precedence from its start: the previous range is cut there, and what of
// it lies beyond the new row's end is kept after it.
func (t *asnTable) add(start, end netip.Addr, asn, org uint32) error {
	if start.Is4() {
		s, e := binary.BigEndian.Uint32(start.AsSlice()), binary.BigEndian.Uint32(end.AsSlice())
		r := range4{s, e, asn, org}
		if n := len(t.v4); n > 0 {
			p := &t.v4[n-1]
			switch {
			case s < p.start:
				return fmt.Errorf("range start %s before the previous row's: rows must be in ascending order", start)
			case s <= p.end:
				t.merged++
				tail := *p
				if s == p.start {
					t.v4 = t.v4[:n-1]
				} else {
					p.end = s - 1
				}
				t.v4 = append(t.v4, r)
				if tail.end > e {
					tail.start = e + 1
					t.v4 = append(t.v4, tail)
				}
				return nil
			}
		}
		t.v4 = append(t.v4, r)
		return nil
	}
	s, e := half(start), half(end)
	r := range6{s, e, asn, org}
	if n := len(t.v6); n > 0 {
		p := &t.v6[n-1]
		switch {
		case less6(s, p.start):
			return fmt.Errorf("range start %s before the previous row's: rows must be in ascending order", start)
		case !less6(p.end, s):
			t.merged++
			tail := *p
			if s == p.start {
				t.v6 = t.v6[:n-1]
			} else {
				p.end = dec6(s)
			}
			t.v6 = append(t.v6, r)
			if less6(e, tail.end) {
				tail.start = inc6(e)
				t.v6 = append(t.v6, tail)
			}
			return nil
		}
	}
	t.v6 = append(t.v6, r)
	return nil
}

// lookup returns the AS of addr; ok is false when no range holds it.
func (t *asnTable) lookup(addr netip.Addr) (asn uint32, org string, ok bool) {
	if addr.Is4() {
		v := binary.BigEndian.Uint32(addr.AsSlice())
		// The last range starting at or before v.
		i, _ := slices.BinarySearchFunc(t.v4, v, func(r range4, v uint32) int {
			if r.start <= v {
				return -1
			}
			return 1
		})
		if i == 0 || t.v4[i-1].end < v {
			return 0, "", false
		}
		r := &t.v4[i-1]
		return r.asn, t.orgs[r.org], true
	}
	v := half(addr)
	i, _ := slices.BinarySearchFunc(t.v6, v, func(r range6, v [2]uint64) int {
		if !less6(v, r.start) {
			return -1
		}
		return 1
	})
	if i == 0 || less6(t.v6[i-1].end, v) {
		return 0, "", false
	}
	r := &t.v6[i-1]
	return r.asn, t.orgs[r.org], true
}
