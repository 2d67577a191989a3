// Package yamlerr finds the line of a YAML syntax error, or of an anchor
// or alias error.
//
// go.yaml.in/yaml/v3 gives a syntax error's line only in its text, and not
// always, nor always right: "yaml: line N: ..." counts from 0 for the
// parser's errors (did not find expected key) and from 1 for the
// scanner's (mapping values are not allowed); on the first line it
// prints no line at all (a tab that cannot start a token: "yaml: found
// character that cannot start any token"); and its reader's errors (a
// control character, bad UTF-8) never have one. Line reads the text back
// into the 1-based line of the file, so that every syntax error can be
// reported as file:line.
package yamlerr

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// parserProblems are the problems the parser (not the scanner) reports:
// their "line N" is the 0-based line of the mark.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// readerProblems are the reader's: no line in their text; the line is that
// of the first character YAML refuses.
var readerProblems = map[string]bool{
	"invalid leading UTF-8 octet":        true,
	"incomplete UTF-8 octet sequence":    true,
	"invalid trailing UTF-8 octet":       true,
	"invalid length of a UTF-8 sequence": true,
	"invalid Unicode character":          true,
	"control characters are not allowed": true,
}

// scannerProblems are the scanner's: "line N" is 1-based.
var scannerProblems = map[string]bool{
	"block sequence entries are not allowed in this context":       true,
	"could not find expected ':'":                                  true,
	"could not find expected directive name":                       true,
	"did not find URI escaped octet":                               true,
	"did not find expected '!'":                                    true,
	"did not find expected alphabetic or numeric character":        true,
	"did not find expected comment or line break":                  true,
	"did not find expected digit or '.' character":                 true,
	"did not find expected hexdecimal number":                      true,
	"did not find expected tag URI":                                true,
	"did not find expected version number":                         true,
	"did not find expected whitespace or line break":               true,
	"did not find expected whitespace":                             true,
	"did not find the expected '>'":                                true,
	"found a tab character that violates indentation":              true,
	"found a tab character where an indentation space is expected": true,
	"found an incorrect leading UTF-8 octet":                       true,
	"found an incorrect trailing UTF-8 octet":                      true,
	"found an indentation indicator equal to 0":                    true,
	"found character that cannot start any token":                  true,
	"found extremely long version number":                          true,
	"found invalid Unicode character escape code":                  true,
	"found unexpected document indicator":                          true,
	"found unexpected end of stream":                               true,
	"found unexpected non-alphabetical character":                  true,
	"found unknown directive name":                                 true,
	"found unknown escape character":                               true,
	"mapping keys are not allowed in this context":                 true,
	"mapping values are not allowed in this context":               true,
}

// opened are the problems yaml reports at the line of what they leave
// open: a quote, a [ or {, a mapping or list.
var opened = map[string]bool{
	"found unexpected end of stream":      true,
	"did not find expected '-' indicator": true,
	"did not find expected key":           true,
	"did not find expected ',' or ']'":    true,
	"did not find expected ',' or '}'":    true,
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Line returns the 1-based line of a YAML syntax error in data and its
// message without the "yaml: " and "line N: " prefixes, with a hint where
// the cause is plain (a tab, a quote never closed). The errors of anchors
// and aliases have a line too (an alias to an anchor not defined before
// it, a merge key of a value that is no mapping, an anchor whose value
// holds an alias to itself), which yaml does not give: it is found in
// data (alias.go). ok is false for errors that are not syntax errors with
// a known place (a type error, whose lines its text gives; a document
// whose aliases expand too far, which has no one place): the caller keeps
// its own message.
func Line(data []byte, err error) (line int, msg string, ok bool) {
	var te *yaml.TypeError
	if err == nil || errors.As(err, &te) {
		return 0, "", false
	}
	msg, isYAML := strings.CutPrefix(err.Error(), "yaml: ")
	if !isYAML {
		return 0, "", false
	}
	if line := aliasLine(data, msg); line > 0 {
		return line, msg, true
	}
	n := -1
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	switch {
	case parserProblems[msg]:
		// 0-based; no line at all when the mark is on the first.
		line = max(n, 0) + 1
	case scannerProblems[msg]:
		line = max(n, 1)
	case readerProblems[msg]:
		if n >= 0 || bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
			return 0, "", false // UTF-16: the bytes are not the characters
		}
		line = refused(data)
		if line == 0 {
			return 0, "", false
		}
	default:
		return 0, "", false
	}
	last := bytes.Count(data, []byte("\n")) // the last line's number
	if !bytes.HasSuffix(data, []byte("\n")) {
		last++
	}
	if line > last {
		// The end of the stream, after the last line (the empty line
		// after the last newline; without one, yaml's mark is past the
		// last line's end all the same): yaml names the line of what was
		// open there (a quote, a [ or a mapping), unless that is the
		// first line, which it never names.
		line = max(last, 1)
		if opened[msg] {
			line = 1
		}
	}
	switch msg {
	case "did not find expected key", "did not find expected '-' indicator":
		// yaml names the line where the mapping or list began, maybe many
		// lines before the one out of line (a key indented one space too
		// many, deep in the rules: list). That line is the first whose
		// prefix of the file fails the same way: a prefix cut at a line's
		// end before it is valid, or fails otherwise (a [ or a quote left
		// open), never so.
		lo, hi := line, bytes.Count(data, []byte("\n"))+1
		if !sameError(prefix(data, hi), msg) {
			break
		}
		for lo < hi {
			mid := lo + (hi-lo)/2
			if sameError(prefix(data, mid), msg) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		line = lo
	case "found unexpected end of stream":
		msg += ": the quoted string opened on this line is never closed"
	case "found a tab character that violates indentation":
		// yaml names the line of the value the tab's line continues.
		for l := line; l <= bytes.Count(data, []byte("\n"))+1; l++ {
			text := lineOf(data, l)
			if bytes.Contains(text[:len(text)-len(bytes.TrimLeft(text, " \t"))], []byte("\t")) {
				line = l
				break
			}
		}
	}
	if strings.Contains(msg, "tab character") || msg == "found character that cannot start any token" {
		if l := lineOf(data, line); bytes.Contains(l, []byte("\t")) {
			if msg == "found character that cannot start any token" {
				msg += " (a tab: YAML indents with spaces)"
			} else if !strings.Contains(msg, "spaces") {
				msg += " (YAML indents with spaces)"
			}
		}
	}
	return line, msg, true
}

// refused returns the 1-based line of the first character the YAML reader
// refuses (bad UTF-8 or a control character), 0 if none.
func refused(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		switch {
		case r == '\n':
			line++
		case r == '\t', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85,
			r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return line
		}
		i += size
	}
	return 0
}

// lineOf returns the text of 1-based line n.
func lineOf(data []byte, n int) []byte {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return nil
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return data
}

// prefix returns data up to the end of 1-based line n, its newline included.
func prefix(data []byte, n int) []byte {
	end := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// sameError reports whether data, read as a stream of documents, fails
// with a syntax error of message msg.
func sameError(data []byte, msg string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		m, _ := strings.CutPrefix(err.Error(), "yaml: ")
		if l := lineRE.FindString(m); l != "" {
			m = m[len(l):]
		}
		return m == msg
	}
}
