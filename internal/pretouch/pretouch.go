// Package pretouch maps in the pages of the Go heap before the program
// first writes them, and the binary's code and read-only data before it
// first reads them, as the JVM's AlwaysPreTouch does for its heap, on
// machines where that is cheaper than faulting them in one at a time.
//
// A process's first write to each page of its heap traps into the kernel,
// as does its first read of each 64 KiB of its executable. What such a
// fault costs depends on the machine: about 15 µs on some of the virtual
// machines this project measures on, where a serve's start took some
// 1,200 of them in the heap and 320 in the binary, a quarter of its time
// from exec to ready; 1-2 µs on others. One madvise (MADV_POPULATE_WRITE,
// MADV_POPULATE_READ; Linux 5.14) maps a whole range in at about 1.2 µs a
// page on both, without changing its contents, so it is safe while the
// allocator hands those pages out; but it maps in pages the start would
// never have touched, so where a fault costs about as much, it only adds
// (2-3 ms to a 15 ms start).
//
// So the package first measures: it times the first writes to a few fresh
// pages one at a time, and one madvise of as many more, and maps
// the start's pages in only when a fault costs at least FaultRatio times
// as much as madvise does a page. The probe costs about 0.1 ms where
// faults are cheap.
//
// Importing the package does it once, when the package is initialised:
// package initialisation orders packages by import path once their
// imports are ready, and this one needs only syscall, time and slices,
// so it runs before most of the binary's packages allocate. Heap maps the
// heap in again (its mapping grows in steps of 4 MiB), if the probe said
// to.
//
// RISKGATE_PRETOUCH in the environment: "auto" or unset measures, "on"
// maps in without measuring, "off" does neither. Elsewhere than on Linux,
// or where the kernel refuses, nothing is done.
//
// What it costs where it is on: the heap's current mapping (4-8 MiB at
// start) is resident at once, and so is the binary (RSS some 12 MB higher
// at start: clean pages of the file, shared and reclaimable).
package pretouch

import (
	"syscall"
	"time"
)

// EnvVar selects the mode: auto (the default), on or off.
const EnvVar = "RISKGATE_PRETOUCH"

// FaultRatio is how many times madvise's cost a page a fault must cost
// for the start to map its pages in: what the start faults in is about
// half of what madvise maps in (1,200 of the heap's first 2,000 pages),
// and the margin keeps a noisy probe on a machine where the two cost
// about the same (a ratio of 1-2) from turning it on.
const FaultRatio = 3

// Decision is what the start decided, and from what.
type Decision struct {
	Mode string // auto, on or off
	On   bool   // the start's pages are mapped in
	// Fault is the median of the probe's page faults and Populate
	// madvise's cost a page; zero when the probe did not run.
	Fault, Populate time.Duration
	// Invalid is the variable's value when it was not understood (the
	// mode is then auto).
	Invalid string
	// Err says why the probe or the mapping in failed.
	Err error
}

var decision Decision

func init() {
	decision = decide(getenv(EnvVar), probe)
	if decision.On {
		_, err := heap()
		if err == nil {
			err = code()
		}
		if err != nil {
			decision.On, decision.Err = false, err
		}
	}
}

// Result is what package initialisation decided and measured.
func Result() Decision { return decision }

// Heap maps in every page of the heap's current mapping and returns its
// size in bytes, when the start's decision was to; otherwise, or when it
// could not (no /proc, a kernel before 5.14), it returns an error saying
// why.
func Heap() (int, error) {
	if !decision.On {
		return 0, errNotOn
	}
	return heap()
}

// decide reads the mode and, in auto, runs probe and compares.
func decide(value string, probe func() (fault, populate time.Duration, err error)) Decision {
	d := Decision{Mode: value}
	switch value {
	case "on":
		d.On = true
		return d
	case "off":
		return d
	case "", "auto":
		d.Mode = "auto"
	default:
		d.Mode, d.Invalid = "auto", value
	}
	fault, populate, err := probe()
	if err != nil {
		d.Err = err
		return d
	}
	d.Fault, d.Populate = fault, populate
	d.On = fault >= FaultRatio*populate
	return d
}

func getenv(k string) string {
	v, _ := syscall.Getenv(k)
	return v
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotOn = constError("pretouch: off (" + EnvVar + ", or the probe found faults cheap)")
