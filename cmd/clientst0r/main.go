// Command clientst0r runs the ClientSt0r server and its operator commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the exit code. Errors are one line on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := dispatch(ctx, args, getenv, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "clientst0r: "+oneLine(err))
		return 1
	}
	return 0
}
