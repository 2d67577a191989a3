package breached

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// rangeFiles is the number of files in a complete downloader folder: one per
// 5-hex-digit prefix.
const rangeFiles = 1 << 20

// source is one file to read: an Input, or one file of a folder Input.
type source struct {
	path   string
	input  int   // index of the Input it came from
	prefix int32 // the 20-bit prefix a downloader range-file name gives; -1 when none
	format Format
	size   int64
}

// rangePrefix returns the prefix of a downloader range-file name
// ("0A3F1.txt", any case), or -1.
func rangePrefix(name string) int32 {
	if len(name) != 9 || !strings.EqualFold(name[5:], ".txt") {
		return -1
	}
	var p int32
	for _, c := range []byte(name[:5]) {
		d := unhex[c]
		if d > 0xf {
			return -1
		}
		p = p<<4 | int32(d)
	}
	return p
}

// expandInputs turns the inputs into the files to read. A folder is either a
// downloader folder (range files 00000.txt … FFFFF.txt, and nothing else
// that is not hidden) or a folder of lists, each file read with the Input's
// format. partial accepts a downloader folder with range files missing.
func expandInputs(inputs []Input, partial bool) ([]source, []Format, error) {
	var out []source
	formats := make([]Format, len(inputs))
	for i, in := range inputs {
		st, err := os.Stat(in.Path)
		if err != nil {
			return nil, nil, err
		}
		formats[i] = in.Format
		if !st.IsDir() && !st.Mode().IsRegular() {
			// The build reads a file more than once (a sample sizes the
			// filter, a second pass counts tiers), which a pipe cannot
			// give; a FIFO's open blocked for ever, and a device's size
			// of 0 sized a filter of +Inf entries (a panic).
			return nil, nil, fmt.Errorf("%s: not a regular file (%s): the build reads its inputs more than once; save it to a file first", in.Path, fileKind(st.Mode()))
		}
		if !st.IsDir() {
			out = append(out, source{path: in.Path, input: i, prefix: rangePrefix(filepath.Base(in.Path)), format: in.Format, size: st.Size()})
			continue
		}
		ents, err := os.ReadDir(in.Path)
		if err != nil {
			return nil, nil, err
		}
		var ranges, others []os.DirEntry
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if rangePrefix(e.Name()) >= 0 {
				ranges = append(ranges, e)
			} else {
				others = append(others, e)
			}
		}
		if len(ranges) == 0 {
			// A folder of lists: every regular file in it, in name order.
			n := 0
			for _, e := range others {
				if !e.Type().IsRegular() {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					return nil, nil, err
				}
				out = append(out, source{path: filepath.Join(in.Path, e.Name()), input: i, prefix: -1, format: in.Format, size: fi.Size()})
				n++
			}
			if n == 0 {
				return nil, nil, fmt.Errorf("%s: folder holds no input files", in.Path)
			}
			continue
		}
		if in.Format == FormatPlain {
			return nil, nil, fmt.Errorf("%s: a Have I Been Pwned downloader folder (00000.txt …) cannot be read as --format plain", in.Path)
		}
		if len(others) > 0 {
			return nil, nil, fmt.Errorf("%s: a Have I Been Pwned downloader folder holds only its range files (00000.txt … FFFFF.txt), but also %s", in.Path, others[0].Name())
		}
		formats[i] = FormatHIBPRange
		seen := make([]bool, rangeFiles)
		for _, e := range ranges {
			p := rangePrefix(e.Name())
			if seen[p] {
				return nil, nil, fmt.Errorf("%s: range %05X appears twice (file names differing in case)", in.Path, p)
			}
			seen[p] = true
			if !e.Type().IsRegular() {
				return nil, nil, fmt.Errorf("%s: not a regular file", filepath.Join(in.Path, e.Name()))
			}
			fi, err := e.Info()
			if err != nil {
				return nil, nil, err
			}
			out = append(out, source{path: filepath.Join(in.Path, e.Name()), input: i, prefix: p, format: FormatHIBPRange, size: fi.Size()})
		}
		if len(ranges) < rangeFiles && !partial {
			first := 0
			for seen[first] {
				first++
			}
			return nil, nil, fmt.Errorf("%s: %w: %d of the %d range files are missing (the first is %05X.txt); download again (haveibeenpwned-downloader DIR -s false -o), or pass --partial to build from what is there",
				in.Path, ErrIncompleteDownload, rangeFiles-len(ranges), rangeFiles, first)
		}
	}
	return out, formats, nil
}

// ErrIncompleteDownload marks a downloader folder with range files missing.
var ErrIncompleteDownload = errors.New("incomplete Pwned Passwords download")
