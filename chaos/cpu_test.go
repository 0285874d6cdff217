package chaos

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clockTick is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on
// every Linux architecture Go runs the chaos test on.
const clockTick = 10 * time.Millisecond

// procCPU is the user + system time a running process has used so far,
// from /proc/<pid>/stat (fields 14 and 15).
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// cpuByKind sums the CPU time of the cluster's running processes by kind
// ("api", "worker").
func (c *cluster) cpuByKind() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for kind, procs := range map[string][]*proc{"api": c.apis, "worker": c.workers} {
		for _, p := range procs {
			pid := p.pid()
			if pid == 0 {
				return nil, fmt.Errorf("%s is not running", p.name)
			}
			d, err := procCPU(pid)
			if err != nil {
				return nil, err
			}
			out[kind] += d
		}
	}
	return out, nil
}

// TestProcCPU: the CPU time read from /proc grows by what the process
// spends.
func TestProcCPU(t *testing.T) {
	t.Parallel()
	before, err := procCPU(os.Getpid())
	require.NoError(t, err)
	var usage syscall.Rusage
	spent := func() time.Duration {
		require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &usage))
		return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	}
	start := spent()
	x := 0
	for spent()-start < 300*time.Millisecond {
		for i := range 1_000_000 {
			x ^= i
		}
	}
	after, err := procCPU(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, after-before, 200*time.Millisecond, "spent at least 300 ms (x=%d)", x)
}
