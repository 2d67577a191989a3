//go:build !linux

package pretouch

const errUnsupported = constError("pretouch: not supported on this system")

func heap() (int, error) { return 0, errUnsupported }

func code() error { return errUnsupported }
