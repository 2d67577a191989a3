//go:build !linux

package pretouch

func heap() (int, error) { return 0, constError("pretouch: not supported on this system") }
