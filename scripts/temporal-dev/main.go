// Command tavio-temporal is Tavio's local Temporal service: the Temporal dev server with
// per-namespace JWT authorization (`server`), and the Temporal Web UI as a separate
// process (`ui`). The UI must not share the server's process: the server trusts token-less
// calls that come from its own sockets (see selfpeer.go), and one UI route calls Temporal
// without the user's token.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage:
  tavio-temporal server --jwks-url URL [--ip IP] [--port N] [--http-port N] [--db-filename FILE]
                        [--log-level LEVEL] [--jwks-refresh DURATION] [--namespace NAME ...]
  tavio-temporal ui [--ip IP] [--port N] [--temporal-address HOST:PORT]
                    [--codec-endpoint URL] [--public-path PATH]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "ui":
		err = runUI(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tavio-temporal %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// waitForStop blocks until the process is asked to stop (Ctrl-C, or SIGTERM from the stack script).
func waitForStop() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

// repeated is a flag that may be given several times (--namespace a --namespace b).
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
