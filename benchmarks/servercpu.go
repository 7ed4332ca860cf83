package benchmarks

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverCPU returns the CPU time (user+system) the PostgreSQL server processes of this
// machine have used so far: every live process named postgres, plus what the postmaster
// has collected from children that already exited (backends of closed connections). It
// reports false when the database at dbURL is not on this machine or /proc cannot be read:
// the figure is then unknown, not zero.
func serverCPU(dbURL string) (time.Duration, bool) {
	if !localDatabase(dbURL) {
		return 0, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	type proc struct {
		ppid                   int
		user, sys, cuser, csys int64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open || !strings.HasPrefix(s[open+1:closing], "postgres") {
			continue
		}
		// Fields after the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17),
		// counted from 1 at the pid.
		f := strings.Fields(s[closing+1:])
		if len(f) < 15 {
			continue
		}
		num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
		procs[pid] = proc{ppid: int(num(1)), user: num(11), sys: num(12), cuser: num(13), csys: num(14)}
	}
	if len(procs) == 0 {
		return 0, false
	}
	var ticks int64
	for _, p := range procs {
		ticks += p.user + p.sys
		if _, child := procs[p.ppid]; !child {
			// the postmaster: add its exited children
			ticks += p.cuser + p.csys
		}
	}
	return time.Duration(ticks) * procTick, true
}

// procTick is the unit of the CPU times in /proc/<pid>/stat: Linux reports them in
// USER_HZ ticks, 100 per second on every architecture.
const procTick = 10 * time.Millisecond

// localDatabase reports whether the URL's host is this machine (loopback or a Unix socket).
func localDatabase(dbURL string) bool {
	u, err := url.Parse(dbURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
