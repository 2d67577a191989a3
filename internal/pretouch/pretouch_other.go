//go:build !linux

package pretouch

import "time"

const errUnsupported = constError("pretouch: not supported on this system")

func heap() (int, error) { return 0, errUnsupported }

func code() error { return errUnsupported }

func probe() (fault, populate time.Duration, err error) { return 0, 0, errUnsupported }
