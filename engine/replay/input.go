package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// CaptureFilePattern matches the capture files a folder is read from;
// files still being written end in InProgressSuffix and are not read.
const (
	CaptureFilePattern = "capture-*.jsonl*"
	InProgressSuffix   = ".inprogress"
)

// Open opens a stream for reading: "-" or "" is standard input; a file is
// read as it is, or decompressed when it is gzip; a folder is read as its
// finished capture files (capture-*.jsonl and capture-*.jsonl.gz, in name
// order, which is time order), one after the other.
func Open(path string) (io.ReadCloser, error) {
	if path == "" || path == "-" {
		return openReader(os.Stdin, io.NopCloser(os.Stdin), "standard input") // not closed
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if !fi.IsDir() {
		return openFile(path)
	}
	files, err := CaptureFiles(path)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		if busy, _ := filepath.Glob(filepath.Join(path, CaptureFilePattern+".inprogress")); len(busy) > 0 {
			return nil, fmt.Errorf("replay: %s: no finished capture files, only %s still being written: it is read once it is rotated (--capture-max-file-age, --capture-max-file-bytes) or the server stops; or give that file itself", path, filepath.Base(busy[len(busy)-1]))
		}
		return nil, fmt.Errorf("replay: %s: no capture files (%s)", path, CaptureFilePattern)
	}
	return &multiFile{files: files}, nil
}

// CaptureFiles lists the finished capture files in dir, in name order.
func CaptureFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, CaptureFilePattern))
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	files = slices.DeleteFunc(files, func(f string) bool {
		return !strings.HasSuffix(f, ".jsonl") && !strings.HasSuffix(f, ".jsonl.gz")
	})
	slices.Sort(files)
	return files, nil
}

// openFile opens one file, decompressing gzip (recognised by its magic
// number, not its name).
func openFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	rc, err := openReader(f, f, path)
	if err != nil {
		f.Close()
	}
	return rc, err
}

// openReader reads r (closed by c), decompressed when it is gzip; name
// names it in errors. Standard input is read the same way as a file.
func openReader(r io.Reader, c io.Closer, name string) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("replay: %s: %w", name, err)
	}
	if IsGzip(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %w", name, err)
		}
		return &gzipFile{Reader: zr, c: c, name: name}, nil
	}
	return &plainFile{Reader: br, c: c}, nil
}

// IsGzip reports whether a file that begins with head is gzip, by its
// magic number (RFC 1952): how Open tells a compressed file, whatever its
// name says. What must see a capture as replay does (an erasure, which
// may not miss what a backtest would read) tells it the same way.
func IsGzip(head []byte) bool {
	return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b
}

type plainFile struct {
	*bufio.Reader
	c io.Closer
}

func (p *plainFile) Close() error { return p.c.Close() }

type gzipFile struct {
	*gzip.Reader
	c    io.Closer
	name string
}

func (g *gzipFile) Read(b []byte) (int, error) {
	n, err := g.Reader.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", g.name, err)
	}
	return n, err
}

func (g *gzipFile) Close() error {
	g.Reader.Close()
	return g.c.Close()
}

// multiFile reads files one after the other, holding one open at a time.
// A file that does not end in a newline gets one, so that its last line
// does not run into the next file's first. It counts the lines it hands
// out, so that a line of the stream can be told by its file (locate).
type multiFile struct {
	files      []string
	cur        io.ReadCloser
	last       byte
	newlineDue bool

	// The reader's goroutine writes these, an error's may read them.
	mu     sync.Mutex
	lines  int         // newlines handed out so far
	opened []fileStart // the files opened, in order
}

// fileStart is a file of a multiFile and the stream's lines before it.
type fileStart struct {
	name   string
	before int
}

// locate implements locator.
func (m *multiFile) locate(line int) (string, int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.opened) - 1; i >= 0; i-- {
		if s := m.opened[i]; s.before < line {
			return s.name, line - s.before, true
		}
	}
	return "", 0, false
}

func (m *multiFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if m.newlineDue {
			m.newlineDue = false
			b[0] = '\n'
			m.mu.Lock()
			m.lines++
			m.mu.Unlock()
			return 1, nil
		}
		if m.cur == nil {
			if len(m.files) == 0 {
				return 0, io.EOF
			}
			f, err := openFile(m.files[0])
			if err != nil {
				return 0, err
			}
			m.mu.Lock()
			m.opened = append(m.opened, fileStart{m.files[0], m.lines})
			m.mu.Unlock()
			m.cur, m.files, m.last = f, m.files[1:], '\n'
		}
		n, err := m.cur.Read(b)
		if n > 0 {
			m.last = b[n-1]
			nl := bytes.Count(b[:n], []byte{'\n'})
			m.mu.Lock()
			m.lines += nl
			m.mu.Unlock()
		}
		if err == io.EOF {
			m.cur.Close()
			m.cur = nil
			m.newlineDue = m.last != '\n'
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (m *multiFile) Close() error {
	if m.cur != nil {
		return m.cur.Close()
	}
	return nil
}
