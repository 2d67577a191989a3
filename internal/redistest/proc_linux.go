package redistest

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill redis-server when the test binary
// dies, so that a crashed or killed test leaves no server behind.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
