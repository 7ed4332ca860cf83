//go:build unix

package memory_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system, all threads) the process has used, so
// benchmarks can report a rate that does not depend on how busy the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
