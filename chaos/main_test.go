package chaos

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aptq/aptq/internal/systest"
)

// binDir holds aptqd and aptq, built once for the package, without the race
// detector: the test runs many processes at once on small machines.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(systest.Main(m, false, &binDir))
}

// eventLog collects timestamped notes of the driver, the processes and the
// observers, printed in order after the table.
type eventLog struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%7.2fs  ", time.Since(l.start).Seconds())+fmt.Sprintf(format, args...))
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, s := range l.lines {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}
