// Command aptqd is the aptq server: the HTTP API, the publish workers, or
// both, plus migrations and admin tasks. Configuration comes from flags and
// APTQ_* environment variables; this is the only package that reads them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "aptqd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := rootCommand()
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}
