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

	"github.com/aptq/aptq/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const rootLong = `aptq publishes signed APT repositories.

Changes are queued by the server; a worker cuts a round and generates Release;
"aptq pkg add/remove" (and "release resign/rollback/update") sign it locally
with your private keys (which never leave this process, or gpg) and wait until
the round is published. Progress goes to stderr: a live status line and upload bars on a
terminal, plain lines otherwise (CI logs); results go to stdout, as JSON with
--json.

Settings come from flags, else the environment, else the profile of the config
file ($XDG_CONFIG_HOME/aptq/config.toml or ~/.config/aptq/config.toml; see
"aptq login --help"):
  APTQ_URL                     server URL (--server)
  APTQ_TOKEN                   API token (--token)
  APTQ_CONFIG                  config file (--config)
  APTQ_PROFILE                 profile of the config file (--profile)
  APTQ_SIGNING_KEY             signing key when neither --key nor --gpg is given:
                               a file path, or the armored private key itself
  APTQ_GPG_KEY                 sign through gpg with these key IDs (comma-separated)
  APTQ_SIGNING_KEY_PASSPHRASE  passphrase of an encrypted signing key
  APTQ_SIGNING_KEY_PASSPHRASE_FILE  file holding it (--passphrase-file)
  APTQ_NO_VERIFY               1: sign rounds without checking them (--no-verify)
  GNUPGHOME                    gpg's home, for --gpg

Exit status:
  0  success; for commands that publish: the change is published
  1  failure with a reason ("aptq: <code>: <message>" on stderr), e.g. the job
     failed or was cancelled, the server refused a request, a round did not
     pass the check before signing (unverified_round), interrupted, the
     server could not be reached (unreachable: after 3 s; publishing
     commands wait 15 s, to outlast a restart), or the URL is not an aptq
     server (not_aptq_server)
  2  usage error: bad command, flags, arguments or config file
  3  timeout: --timeout ran out; the job id and its last state are printed and
     the change is cancelled unless already committed
  4  authentication failed (HTTP 401), or the token is malformed: check the
     token (aptq login, --token, APTQ_TOKEN; surrounding whitespace is ignored)`

// run executes the CLI with args and returns the exit status: an int rather
// than the usual error, because scripts tell five outcomes apart (rootLong).
// It reads the environment only through getenv, so tests can run it in parallel.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
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
	if a.json && !a.printedJSON {
		// Scripts parse stdout: give them the failure there too.
		_ = a.printJSON(map[string]any{"error": client.JobError{Code: e.code, Message: e.msg}})
	}
	fmt.Fprintf(stderr, "aptq: %s: %s\n", e.code, e.msg)
	if e.exit == exitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return e.exit
}

// newRoot builds the command tree of a.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "aptq",
		Short:         "Publish signed APT repositories",
		Long:          rootLong,
		SilenceErrors: true, // errors are printed by run, in one format
		SilenceUsage:  true,
		// completion is ours (it fails on an unknown shell); cobra's hidden
		// __complete, which the scripts call, stays.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "API server URL (env APTQ_URL, else the profile's, else "+defaultServer+")")
	pf.StringVar(&a.token, "token", "", "API token (env APTQ_TOKEN, else the profile's; prefer those: flags show in ps)")
	pf.StringVar(&a.configPath, "config", "", "config file (env APTQ_CONFIG, default $XDG_CONFIG_HOME/aptq/config.toml)")
	pf.StringVar(&a.profile, "profile", "", "profile of the config file (env APTQ_PROFILE, else its default_profile)")
	pf.BoolVar(&a.json, "json", false, "print the result as JSON on stdout (also a failure: {\"error\":{…}})")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "no progress on stderr (results and errors still print)")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long, exit 3 (default 10m for commands that publish, 1m otherwise)")
	root.AddCommand(a.loginCommand(), a.keyCommand(), a.repoCommand(), a.releaseCommand(), a.pkgCommand(),
		a.importCommand(), a.jobCommand(), a.roundCommand(), a.tenantCommand(), a.tokenCommand(), a.auditCommand(), a.uiCommand(),
		a.webhookCommand(),
		a.completionCommand(root))
	return root
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
