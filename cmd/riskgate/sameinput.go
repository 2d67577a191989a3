package main

import (
	"fmt"
	"os"

	"github.com/riskgate/riskgate/engine/replay"
)

// refuseInputAsOutput refuses an output file (flag: its flag) that is the
// input, or one of the files of the input capture folder: creating it
// would truncate what is about to be read. It is checked before anything
// is created. Standard input and output ("" or "-") are never the same.
func refuseInputAsOutput(in, flag, out string) error {
	if in == "" || in == "-" || out == "" || out == "-" {
		return nil
	}
	ofi, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: it cannot be the input
	}
	ifi, err := os.Stat(in)
	if err != nil {
		return nil // Open reports it
	}
	inputs := []os.FileInfo{ifi}
	if ifi.IsDir() {
		files, err := replay.CaptureFiles(in)
		if err != nil {
			return err
		}
		inputs = inputs[:0]
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				inputs = append(inputs, fi)
			}
		}
	}
	for _, fi := range inputs {
		if os.SameFile(fi, ofi) {
			return fmt.Errorf("%s %s: is the input (-i %s), which writing it would truncate before it is read", flag, out, in)
		}
	}
	return nil
}
