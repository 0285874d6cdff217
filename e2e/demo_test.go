package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store/storetest"
)

// demoTree lays out what scripts/demo.sh expects beside it: the script
// itself, .aptq/env and the binaries in .aptq/bin, as `make demo` leaves
// them. It returns the tree's root.
func demoTree(t *testing.T, env string, aptqd, aptq string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "scripts"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, ".aptq", "bin"), 0o755))
	script, err := os.ReadFile("../scripts/demo.sh")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "scripts", "demo.sh"), script, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, ".aptq", "env"), []byte(env), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, ".aptq", "bin", "aptqd"), []byte(aptqd), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, ".aptq", "bin", "aptq"), []byte(aptq), 0o755))
	return root
}

// runDemo runs the tree's demo.sh with APTQ_LISTEN=listen; it stops the
// aptqd the demo left running when the test ends.
func runDemo(t *testing.T, root, listen string) (string, error) {
	t.Helper()
	t.Cleanup(func() {
		pid, err := os.ReadFile(filepath.Join(root, ".aptq", "aptqd.pid"))
		if err != nil {
			return
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
			_ = syscall.Kill(n, syscall.SIGTERM)
		}
	})
	// A demo that hangs fails the test instead of stalling the package.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "demo.sh"))
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(), "APTQ_LISTEN="+listen)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// takenAddr is a loopback address a listener of the test holds.
func takenAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// An aptqd that dies at start-up (here: a bind error) is reported at once
// with its own error, and the demo moves off a taken port first: this fake
// aptqd logs the address it was given, then fails as a real one would.
func TestDemoReportsAptqdExit(t *testing.T) {
	t.Parallel()
	taken := takenAddr(t)
	fakeAptqd := `#!/bin/sh
echo "starting on $APTQ_LISTEN"
echo "aptqd: listen tcp $APTQ_LISTEN: bind: permission denied (fake)" >&2
exit 1
`
	root := demoTree(t, "", fakeAptqd, "#!/bin/sh\nexit 1\n")
	out, err := runDemo(t, root, taken)
	require.Error(t, err, out)

	m := regexp.MustCompile(`(?m)^== ` + regexp.QuoteMeta(taken) + ` is taken .*using (127\.0\.0\.1:\d+) instead`).FindStringSubmatch(out)
	require.NotNil(t, m, "the demo must say it moved off the taken port:\n%s", out)
	require.NotEqual(t, taken, m[1])
	require.Contains(t, out, "aptqd exited during start-up (status 1)")
	require.Contains(t, out, "starting on "+m[1], "aptqd must be started on the free port")
	require.Contains(t, out, "aptqd: listen tcp "+m[1]+": bind: permission denied (fake)", "aptqd's own error must be shown")
	require.NotContains(t, out, "did not become ready")
}

// The whole demo with the real binaries, with its default port taken: it
// publishes on another port and ends with what to do next.
func TestDemoOnTakenPort(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get")
	}
	var env strings.Builder
	fmt.Fprintf(&env, "export APTQ_DATABASE_URL='%s'\n", storetest.NewDB(t))
	for _, k := range []string{"APTQ_S3_ENDPOINT", "APTQ_S3_BUCKET", "APTQ_S3_ACCESS_KEY", "APTQ_S3_SECRET_KEY", "APTQ_S3_REGION"} {
		fmt.Fprintf(&env, "export %s='%s'\n", k, os.Getenv(k))
	}
	exe := func(name string) string { return "#!/bin/sh\nexec " + filepath.Join(binDir, name) + ` "$@"` + "\n" }
	root := demoTree(t, env.String(), exe("aptqd"), exe("aptq"))
	taken := takenAddr(t)

	out, err := runDemo(t, root, taken)
	require.NoError(t, err, out)
	m := regexp.MustCompile(`(?m)^== aptqd is serving on http://(127\.0\.0\.1:\d+) `).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.NotEqual(t, taken, m[1])

	next := out[strings.Index(out, "== next steps"):]
	require.Contains(t, next, filepath.Join(root, ".aptq", "bin", "aptq")+" (the CLI)")
	require.Contains(t, next, filepath.Join(root, ".aptq", "bin", "aptqd")+" (the server")
	tok := regexp.MustCompile(`export APTQ_URL=http://` + regexp.QuoteMeta(m[1]) + ` APTQ_TOKEN=(aptq_\w+)`).FindStringSubmatch(next)
	require.NotNil(t, tok, next)
	tenant := regexp.MustCompile(`demo tenant \((demo-\d+)\)`).FindStringSubmatch(next)
	require.NotNil(t, tenant, next)
	require.Contains(t, next, "gpg --dearmor <"+filepath.Join(root, ".aptq", "demo", "signing.pub.asc")+
		" | sudo tee /etc/apt/keyrings/aptq-demo.gpg")
	require.Contains(t, next, "deb [signed-by=/etc/apt/keyrings/aptq-demo.gpg] http://"+m[1]+"/apt/"+tenant[1]+"/demo stable main")

	// The printed token is the demo tenant's and works.
	cmd := exec.Command(filepath.Join(binDir, "aptq"), "repo", "list")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "APTQ_URL=http://"+m[1], "APTQ_TOKEN="+tok[1])
	repos, err := cmd.CombinedOutput()
	require.NoError(t, err, string(repos))
	require.Contains(t, string(repos), "demo")
}

// A port the demo picked that another program binds first (between the
// demo's check and aptqd's bind) is replaced by the next free one. This
// fake aptqd fails to bind the first time, then serves /readyz; the demo
// stops at its next step (the fake has no admin command).
func TestDemoRetriesAPortTakenMeanwhile(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for the stand-in server")
	}
	taken := takenAddr(t)
	fakeAptqd := `#!/bin/sh
[ "$1" = all ] || exit 1
state=$(dirname "$0")/..
if [ ! -e "$state/failed-once" ]; then
	touch "$state/failed-once"
	echo "aptqd: listen tcp $APTQ_LISTEN: bind: address already in use" >&2
	exit 1
fi
mkdir -p "$state/www" && touch "$state/www/readyz" && cd "$state/www"
exec ` + python + ` -m http.server "${APTQ_LISTEN##*:}" --bind 127.0.0.1
`
	root := demoTree(t, "", fakeAptqd, "#!/bin/sh\nexit 1\n")
	out, _ := runDemo(t, root, taken)
	first := regexp.MustCompile(`using 127\.0\.0\.1:(\d+) instead`).FindAllStringSubmatch(out, -1)
	require.Len(t, first, 2, out)
	require.Contains(t, out, "== that port was taken meanwhile; using 127.0.0.1:"+first[1][1]+" instead")
	require.Contains(t, out, "== aptqd is serving on http://127.0.0.1:"+first[1][1]+" ")
	require.NotContains(t, out, "exited during start-up")
}
