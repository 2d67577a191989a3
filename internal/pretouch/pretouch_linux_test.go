package pretouch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// absent counts the pages of [lo, hi) that are not resident (mincore).
func absent(t *testing.T, lo, hi uintptr) int {
	t.Helper()
	page := uintptr(syscall.Getpagesize())
	vec := make([]byte, (hi-lo+page-1)/page)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		if v&1 == 0 {
			n++
		}
	}
	return n
}

// TestPopulateMapsInTheHeap: a large allocation takes fresh pages that
// nothing has written (in a fresh test process); after populate every
// page of the allocation is resident, and their contents are unchanged.
// (Heap populates the mapping of a small object, which
// TestMappingOfThisProcess finds writable.)
func TestPopulateMapsInTheHeap(t *testing.T) {
	big := make([]byte, 32<<20) // fresh from the kernel: not written, not zeroed
	lo, hi, rw, err := mappingOf(uintptr(unsafe.Pointer(&big[0])))
	if err != nil || !rw {
		t.Fatalf("the allocation's mapping: %v, writable %v", err, rw)
	}
	// Absent pages, unless an earlier run of the test (-count) left this
	// mapping resident: then the test shows nothing, but cannot fail.
	t.Logf("%d of %d pages absent before", absent(t, lo, hi), (hi-lo)/uintptr(syscall.Getpagesize()))
	size, err := populate(uintptr(unsafe.Pointer(&big[0])))
	if err != nil {
		if errors.Is(err, syscall.EINVAL) {
			t.Skipf("the kernel has no MADV_POPULATE_WRITE: %v", err)
		}
		t.Fatal(err)
	}
	// The runtime may grow the mapping meanwhile (a heap mapping is not
	// unmapped), and its scavenger may give back free pages of it at any
	// time: what must be resident are the allocation's own pages.
	if size < int(hi-lo) {
		t.Errorf("populate mapped in %d bytes, the mapping has %d", size, hi-lo)
	}
	page := uintptr(syscall.Getpagesize())
	start := uintptr(unsafe.Pointer(&big[0]))
	if n := absent(t, start&^(page-1), (start+uintptr(len(big))+page-1)&^(page-1)); n != 0 {
		t.Errorf("%d pages of the allocation still absent", n)
	}
	for i := range big { // contents unchanged: still the kernel's zeros
		if big[i] != 0 {
			t.Fatalf("byte %d is %d", i, big[i])
		}
	}
	runtime.KeepAlive(big)
}

// TestProbe: the probe measures both costs on this machine (the fault's
// includes zeroing a page, so it is never free).
func TestProbe(t *testing.T) {
	fault, populate, err := probe()
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("the kernel has no MADV_POPULATE_WRITE: %v", err)
	}
	if err != nil || fault <= 0 || populate <= 0 {
		t.Fatalf("probe: fault %v, populate %v a page, %v", fault, populate, err)
	}
	t.Logf("a fault %v, madvise %v a page: ratio %.1f", fault, populate, float64(fault)/float64(populate))
}

// TestHeapFollowsTheDecision: in a child process started with each value
// of the variable, package initialisation decides, and Heap maps in when
// it decided to and says why not otherwise.
func TestHeapFollowsTheDecision(t *testing.T) {
	if os.Getenv("PRETOUCH_TEST_CHILD") != "" {
		n, err := Heap()
		d := Result()
		fmt.Printf("mode=%s on=%v probed=%v heap=%d err=%v decision-err=%v invalid=%q\n", d.Mode, d.On, d.Fault > 0, n, err, d.Err, d.Invalid)
		return
	}
	for _, tc := range []struct{ value, want string }{
		{"on", "mode=on on=true probed=false heap="},
		{"off", "mode=off on=false probed=false heap=0 err=" + errNotOn.Error() + " decision-err=<nil>"},
		{"sometimes", "mode=auto "},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestHeapFollowsTheDecision$", "-test.count", "1")
		cmd.Env = append(os.Environ(), "PRETOUCH_TEST_CHILD=1", EnvVar+"="+tc.value)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", EnvVar, tc.value, err, out)
		}
		line := ""
		for l := range strings.Lines(string(out)) {
			if strings.HasPrefix(l, "mode=") {
				line = l
			}
		}
		t.Logf("%s=%s: %s", EnvVar, tc.value, strings.TrimSpace(line))
		if !strings.HasPrefix(line, tc.want) {
			t.Errorf("%s=%s: %q, want it to start %q", EnvVar, tc.value, line, tc.want)
		}
		switch tc.value {
		case "on":
			if strings.Contains(line, "invalid argument") {
				t.Skipf("the kernel has no MADV_POPULATE_WRITE: %s", line)
			}
			if strings.Contains(line, "heap=0") || !strings.Contains(line, "err=<nil> decision-err=<nil>") {
				t.Errorf("on: the heap was not mapped in: %s", line)
			}
		case "sometimes":
			if !strings.Contains(line, "probed=true") || !strings.Contains(line, `invalid="sometimes"`) {
				t.Errorf("an unknown value: not measured, or not said: %s", line)
			}
		}
	}
}

func TestParseMapping(t *testing.T) {
	for _, tc := range []struct {
		line   string
		lo, hi uintptr
		rw, ok bool
	}{
		{"c000000000-c004000000 rw-p 00000000 00:00 0", 0xc000000000, 0xc004000000, true, true},
		{"00400000-012c6000 r-xp 00000000 00:1f 1234 /usr/bin/riskgate", 0x400000, 0x12c6000, false, true},
		{"7ffd1000-7ffd2000 r--p 00000000 00:00 0 [vvar]", 0x7ffd1000, 0x7ffd2000, false, true},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]", 0xffffffffff600000, 0xffffffffff601000, false, true},
		{"", 0, 0, false, false},
		{"c000-", 0, 0, false, false},
		{"c000-b000 rw-p", 0, 0, false, false},           // end before start
		{"C000-D000 rw-p", 0, 0, false, false},           // the kernel writes lower case
		{"c000-d000rw-p", 0, 0, false, false},            // no space
		{"c000-d000 r", 0, 0, false, false},              // no permissions
		{"10000000000000000-1 rw-p", 0, 0, false, false}, // more digits than an address
	} {
		lo, hi, rw, ok := parseMapping([]byte(tc.line))
		if lo != tc.lo || hi != tc.hi || rw != tc.rw || ok != tc.ok {
			t.Errorf("%q: %#x %#x %v %v, want %#x %#x %v %v", tc.line, lo, hi, rw, ok, tc.lo, tc.hi, tc.rw, tc.ok)
		}
	}
}

// FuzzParseMapping: any line is parsed without a panic, and what parses
// reads back as the line's start.
func FuzzParseMapping(f *testing.F) {
	f.Add("c000000000-c004000000 rw-p 00000000 00:00 0")
	f.Add("00400000-012c6000 r-xp 00000000 00:1f 1234 /usr/bin/riskgate")
	f.Fuzz(func(t *testing.T, line string) {
		lo, hi, rw, ok := parseMapping([]byte(line))
		if !ok {
			return
		}
		if hi <= lo {
			t.Fatalf("%q: end %#x not after start %#x", line, hi, lo)
		}
		start, end, _ := strings.Cut(line, "-")
		end, perms, _ := strings.Cut(end, " ")
		if fmt.Sprintf("%x", lo) != strings.TrimLeft(start, "0")+map[bool]string{true: "0"}[strings.Trim(start, "0") == ""] ||
			fmt.Sprintf("%x", hi) != strings.TrimLeft(end, "0") || rw != strings.HasPrefix(perms, "rw") {
			t.Fatalf("%q: %#x-%#x rw %v", line, lo, hi, rw)
		}
	})
}

// TestMappingOfThisProcess: the mapping of a function's code is found,
// and is not writable; that of a heap object is.
func TestMappingOfThisProcess(t *testing.T) {
	f := TestMappingOfThisProcess
	code := **(**uintptr)(unsafe.Pointer(&f))
	lo, hi, rw, err := mappingOf(code)
	if err != nil || rw || code < lo || code >= hi {
		t.Errorf("code at %#x: %#x-%#x writable %v, %v", code, lo, hi, rw, err)
	}
	addr := heapAddr()
	lo, hi, rw, err = mappingOf(addr)
	if err != nil || !rw || addr < lo || addr >= hi {
		t.Errorf("heap object at %#x: %#x-%#x writable %v, %v", addr, lo, hi, rw, err)
	}
}

// resident reads the Size and Rss of the mapping starting at lo from
// /proc/self/smaps, in KiB.
func resident(t *testing.T, lo uintptr) (size, rss int) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for line := range strings.Lines(string(b)) {
		if l, _, _, ok := parseMapping([]byte(line)); ok {
			in = l == lo
			continue
		}
		if !in {
			continue
		}
		var v int
		if n, _ := fmt.Sscanf(line, "Size: %d kB", &v); n == 1 {
			size = v
		}
		if n, _ := fmt.Sscanf(line, "Rss: %d kB", &v); n == 1 {
			rss = v
		}
	}
	if size == 0 {
		t.Fatalf("no mapping at %#x in /proc/self/smaps", lo)
	}
	return size, rss
}

// TestCodeMapsInTheBinary: after code, the mappings of the binary's code
// and read-only data are resident whole. (A test binary's are some tens
// of MiB, of which a test run reads a part: the init's own code already
// did this, so the test does not see them partly absent before.)
func TestCodeMapsInTheBinary(t *testing.T) {
	if err := code(); err != nil {
		if errors.Is(err, syscall.EINVAL) {
			t.Skipf("the kernel has no MADV_POPULATE_READ: %v", err)
		}
		t.Fatal(err)
	}
	for _, addr := range []uintptr{codeAddr(), uintptr(unsafe.Pointer(unsafe.StringData(readOnly)))} {
		lo, _, rw, err := mappingOf(addr)
		if err != nil || rw {
			t.Fatalf("%#x: %v, writable %v", addr, err, rw)
		}
		if size, rss := resident(t, lo); rss != size {
			t.Errorf("mapping at %#x: %d of %d KiB resident", lo, rss, size)
		}
	}
}
