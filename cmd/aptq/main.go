// Command aptq is the aptq CLI: it manages repositories, releases and keys,
// uploads packages and signs the releases they are published in. The private
// signing key is read only here and never leaves the process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const rootLong = `aptq publishes signed APT repositories.

Changes are queued by the server; a worker cuts a round and generates Release;
"aptq pkg add/remove" signs it locally with your private key (which never leaves
this process) and waits until the round is published.

Environment:
  APTQ_URL                     server URL, when --server is not given
  APTQ_TOKEN                   API token, when --token is not given
  APTQ_SIGNING_KEY             pkg add/remove signing key when --key is not given:
                               a file path, or the armored private key itself
  APTQ_SIGNING_KEY_PASSPHRASE  passphrase of an encrypted signing key

Exit status:
  0  success; for pkg add/remove: the change is published
  1  failure with a reason ("aptq: <code>: <message>" on stderr), e.g. the job
     failed or was cancelled, the server refused a request, or interrupted
  2  usage error: bad command, flags or arguments
  3  timeout: --timeout ran out; the job id and its last state are printed and
     the change may still be published
  4  authentication failed (HTTP 401): check --token / APTQ_TOKEN`

// run executes the CLI with args and returns the exit status: an int rather
// than the usual error, because scripts tell five outcomes apart (rootLong).
// It reads the environment only through getenv, so tests can run it in parallel.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "aptq",
		Short:         "Publish signed APT repositories",
		Long:          rootLong,
		SilenceErrors: true, // errors are printed below, in one format
		SilenceUsage:  true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "API server URL (env APTQ_URL, default "+defaultServer+")")
	pf.StringVar(&a.token, "token", "", "API token (env APTQ_TOKEN; prefer the environment: flags show in ps)")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON on stdout")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "no progress messages on stderr (results and errors still print)")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long, exit 3 (default 10m for pkg add/remove, 1m otherwise)")
	root.AddCommand(a.keyCommand(), a.repoCommand(), a.releaseCommand(), a.pkgCommand(), a.jobCommand())
	root.SetOut(stdout)
	root.SetErr(stderr)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if !a.ran && !errors.As(err, &ce) {
		err = usageErrorf("%v", err)
	}
	e := a.describe(ctx, err)
	fmt.Fprintf(stderr, "aptq: %s: %s\n", e.code, e.msg)
	if e.exit == exitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return e.exit
}

// group makes a command that only holds subcommands. cobra would print help
// and succeed on an unknown subcommand ("aptq repo crate"); this fails instead.
func (a *app) group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}
