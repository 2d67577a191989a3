package pretouch

import (
	"slices"
	"syscall"
	"time"
	"unsafe"
)

// MADV_POPULATE_READ and MADV_POPULATE_WRITE (Linux 5.14): fault the
// range in, readable, or writable as if written without writing it.
const (
	madvPopulateRead  = 22
	madvPopulateWrite = 23
)

// probePages is how many pages the probe faults in, and then maps in by
// madvise: enough for a median that one interruption does not move, few
// enough to cost about 0.1 ms (mapping, faults, madvise, unmapping).
const probePages = 16

// probe times the first write to each of probePages fresh anonymous pages
// and returns the median, and the cost a page of one MADV_POPULATE_WRITE
// of probePages more.
func probe() (fault, populate time.Duration, err error) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*probePages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = syscall.Munmap(mem) }()
	var faults [probePages]time.Duration
	for i := range faults {
		start := time.Now()
		mem[i*page] = 1
		faults[i] = time.Since(start)
	}
	start := time.Now()
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&mem[probePages*page])), uintptr(probePages*page), madvPopulateWrite); e != 0 {
		return 0, 0, e
	}
	populate = time.Since(start) / probePages
	return median(faults[:]), populate, nil
}

// median sorts d and returns its middle element.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// heapAddr is the address of a new heap object: in the mapping the
// allocator is handing pages out of.
//
//go:noinline
func heapAddr() uintptr {
	escape = new([64]byte) // through a global: on the heap, not the stack
	addr := uintptr(unsafe.Pointer(escape))
	escape = nil
	return addr
}

var escape *[64]byte

func heap() (int, error) { return populate(heapAddr()) }

// populate maps in every page of the writable mapping holding addr.
func populate(addr uintptr) (int, error) {
	lo, hi, rw, err := mappingOf(addr)
	if err != nil {
		return 0, err
	}
	if !rw {
		return 0, constError("pretouch: the heap's mapping is not writable")
	}
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvPopulateWrite); e != 0 {
		return 0, e
	}
	return int(hi - lo), nil
}

// code maps in the binary's code and its read-only data (type data,
// tables, the line table the runtime reads to unwind stacks): clean pages
// of the executable file, most of which a start reads anyway, in fault-
// around blocks of 64 KiB at a fault each.
func code() error {
	for _, addr := range []uintptr{codeAddr(), uintptr(unsafe.Pointer(unsafe.StringData(readOnly)))} {
		lo, hi, rw, err := mappingOf(addr)
		if err != nil {
			return err
		}
		if rw {
			return constError("pretouch: the binary's code or read-only data is writable")
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvPopulateRead); e != 0 {
			return e
		}
	}
	return nil
}

// codeAddr is the entry of a function: in the binary's code.
//
//go:noinline
func codeAddr() uintptr {
	f := codeAddr
	return **(**uintptr)(unsafe.Pointer(&f))
}

// readOnly is a string constant: its bytes are in the binary's read-only
// data.
const readOnly = "pretouch: read-only data"

// mappingOf finds the mapping holding addr in /proc/self/maps. It reads
// with system calls into a buffer on the stack: it runs during package
// initialisation, before os and bufio are ready.
func mappingOf(addr uintptr) (lo, hi uintptr, rw bool, err error) {
	fd, err := syscall.Open("/proc/self/maps", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, false, err
	}
	defer syscall.Close(fd)
	var buf [8 << 10]byte
	held := 0 // bytes of an unfinished line at the start of buf
	for {
		n, err := syscall.Read(fd, buf[held:])
		if err != nil {
			return 0, 0, false, err
		}
		if n == 0 {
			return 0, 0, false, constError("pretouch: no mapping holds the heap")
		}
		data := buf[:held+n]
		for {
			i := indexNewline(data)
			if i < 0 {
				break
			}
			if l, h, w, ok := parseMapping(data[:i]); ok && l <= addr && addr < h {
				return l, h, w, nil
			}
			data = data[i+1:]
		}
		if len(data) == len(buf) {
			return 0, 0, false, constError("pretouch: a line of /proc/self/maps is longer than the buffer")
		}
		held = copy(buf[:], data)
	}
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// parseMapping reads the start, end and write permission of a line of
// /proc/self/maps ("7f00-7f80 rw-p ..."); ok is false for anything else.
func parseMapping(line []byte) (lo, hi uintptr, rw, ok bool) {
	lo, i, ok := parseHex(line, 0)
	if !ok || i >= len(line) || line[i] != '-' {
		return 0, 0, false, false
	}
	hi, i, ok = parseHex(line, i+1)
	if !ok || hi <= lo || i+3 > len(line) || line[i] != ' ' {
		return 0, 0, false, false
	}
	return lo, hi, line[i+1] == 'r' && line[i+2] == 'w', true
}

// parseHex reads lower-case hexadecimal digits from line[i:], at most as
// many as an address has.
func parseHex(line []byte, i int) (v uintptr, next int, ok bool) {
	start := i
	for ; i < len(line) && i-start < 2*int(unsafe.Sizeof(v)); i++ {
		c := line[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return v, i, i > start
		}
	}
	return v, i, i > start
}
