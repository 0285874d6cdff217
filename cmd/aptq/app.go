package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

// Exit statuses; rootLong documents them for users.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitTimeout = 3
	exitAuth    = 4
)

const defaultServer = "http://127.0.0.1:8080"

// app is one invocation of the CLI: its environment, its global flags and
// where it reads and writes.
type app struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	// Global flags; empty means "from the environment, else the profile".
	server, token       string
	configPath, profile string
	json, quiet         bool
	timeout             time.Duration // 0 means the command's default

	// deadline is the timeout the running command got.
	deadline time.Duration
	// unreachableAfter is how long the running command's requests retry a
	// server that cannot be reached at all.
	unreachableAfter time.Duration

	// conf is the config file's profile in effect, loaded by action.
	conf loadedConfig

	// ui draws progress on stderr; action sets it up.
	ui *ui

	// ran is set once a command's own code starts; an error before that came
	// from cobra's flag and argument checks, which makes it a usage error.
	ran bool
	// printedJSON is set once a command printed its --json result, so that a
	// failure does not print a second object.
	printedJSON bool
}

// Default --timeout values. Publishing waits for a worker and a signature;
// everything else is one or two requests, which should not sit retrying an
// unreachable server for long.
const (
	defaultTimeout = time.Minute
	publishTimeout = 10 * time.Minute
)

// quickUnreachable is how long a command that is not publishing retries a
// server nothing answers at: a user running `list` or `job status` wants
// the address tried at once, not after a minute. Publishing commands wait
// out a server restart (client.DefaultUnreachableAfter).
const quickUnreachable = 3 * time.Second

// errTimedOut is the cause of the --timeout context, to tell it apart from
// an interrupt.
var errTimedOut = errors.New("--timeout ran out")

// noConfig marks commands that work without the config file (cobra
// annotation key), so a broken file cannot stop, e.g., key generate.
const noConfig = "aptq/no-config"

// action wraps a command's code: errors it returns are not taken for usage
// errors, it runs under --timeout (def when the flag is not given), with the
// config file's profile loaded and the progress display set up.
func (a *app) action(def time.Duration, fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		a.deadline = a.timeout
		a.unreachableAfter = client.DefaultUnreachableAfter
		if def == defaultTimeout {
			a.unreachableAfter = quickUnreachable
		}
		switch {
		case a.timeout < 0:
			return usageErrorf("--timeout must be positive")
		case a.timeout == 0:
			a.deadline = def
		}
		a.ui = newUI(a.stderr, a.quiet, a.getenv)
		defer a.ui.Close()
		if cmd.Annotations[noConfig] == "" {
			conf, err := a.loadConfig()
			if err != nil {
				return err
			}
			a.conf = conf
		}
		ctx, cancel := context.WithTimeoutCause(cmd.Context(), a.deadline, errTimedOut)
		defer cancel()
		cmd.SetContext(ctx)
		err := fn(cmd, args)
		var ce *cliError
		if err != nil && context.Cause(ctx) == errTimedOut && !errors.As(err, &ce) {
			return &cliError{code: "timeout", exit: exitTimeout, msg: fmt.Sprintf("gave up after %s: %v", a.deadline, err)}
		}
		return err
	}
}

// serverURL is --server, else APTQ_URL, else the profile's, else the default.
func (a *app) serverURL() string {
	return firstNonEmpty(a.server, a.getenv("APTQ_URL"), a.conf.profile.Server, defaultServer)
}

// authToken is --token, else APTQ_TOKEN, else the profile's.
func (a *app) authToken() string {
	return firstNonEmpty(a.token, a.getenv("APTQ_TOKEN"), a.conf.profile.Token)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// client returns an API client; retries are reported as progress so that a
// user waiting on an unreachable server knows why.
func (a *app) client() *client.Client {
	return a.clientFor(a.serverURL(), a.authToken())
}

func (a *app) clientFor(server, token string) *client.Client {
	opts := []client.Option{client.WithRetryHook(func(r client.Retry) {
		a.progress("%s %s failed (%v); retrying in %s", r.Method, r.Path, r.Err, r.Delay.Round(time.Millisecond))
	})}
	if a.unreachableAfter > 0 { // set by action; the client's default otherwise
		opts = append(opts, client.WithUnreachableAfter(a.unreachableAfter))
	}
	return client.New(server, token, opts...)
}

// progress tells the user what is happening, on stderr so that stdout stays
// the command's result.
func (a *app) progress(format string, args ...any) {
	if a.ui == nil { // before a command's code runs
		if !a.quiet {
			fmt.Fprintf(a.stderr, format+"\n", args...)
		}
		return
	}
	a.ui.Logf(format, args...)
}

// printf writes the human-readable result.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// printJSON writes the --json result: one indented object.
func (a *app) printJSON(v any) error {
	a.printedJSON = true
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cliError is a failure as the user sees it: "aptq: <code>: <message>" and
// an exit status.
type cliError struct {
	code string
	msg  string
	exit int
}

func (e *cliError) Error() string { return e.code + ": " + e.msg }

func usageErrorf(format string, args ...any) error {
	return &cliError{code: "usage", msg: fmt.Sprintf(format, args...), exit: exitUsage}
}

func failf(code, format string, args ...any) error {
	return &cliError{code: code, msg: fmt.Sprintf(format, args...), exit: exitFailed}
}

// describe turns any error into what the user is told and the exit status.
func (a *app) describe(ctx context.Context, err error) *cliError {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	var (
		unreachable *client.UnreachableError
		notAPI      *client.NotAPIError
	)
	switch {
	case errors.Is(err, client.ErrMalformedToken):
		return &cliError{code: "malformed_token", msg: err.Error(), exit: exitAuth}
	case errors.As(err, &unreachable):
		return &cliError{code: "unreachable", msg: unreachable.Error(), exit: exitFailed}
	case errors.As(err, &notAPI):
		return &cliError{code: "not_aptq_server", msg: notAPI.Error(), exit: exitFailed}
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		// Keep what callers wrapped around the API error, e.g. the file name.
		prefix := strings.TrimSuffix(err.Error(), apiErr.Error())
		e := &cliError{code: apiErr.Code, msg: prefix + apiErr.Message + formatDetails(apiErr.Details), exit: exitFailed}
		if apiErr.Status == http.StatusUnauthorized {
			e.exit = exitAuth
			if a.authToken() == "" {
				e.msg += " (no token: run aptq login, pass --token or set APTQ_TOKEN)"
			}
		}
		return e
	}
	if ctx.Err() != nil {
		return &cliError{code: "interrupted", msg: err.Error(), exit: exitFailed}
	}
	return &cliError{code: "error", msg: err.Error(), exit: exitFailed}
}

// formatDetails appends the API's details (which field, which existing
// package) to a message, in a stable order.
func formatDetails(details map[string]any) string {
	parts := formatPairs(details)
	if len(parts) == 0 {
		return ""
	}
	// "; " between details: a list inside one is joined with ", ".
	return " (" + strings.Join(parts, "; ") + ")"
}
