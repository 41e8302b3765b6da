package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/temporalio/cli/temporalcli/devserver"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// runUI serves the Temporal Web UI on its own. It keeps no credentials: the ui-server's API
// forwards each request's Authorization header to Temporal as gRPC metadata (grpc-gateway
// passes that one header through), so a proxy in front that puts the user's token there is
// all the UI needs, and a request without one is refused by the server.
func runUI(args []string) error {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	ip := fs.String("ip", "127.0.0.1", "IP address to listen on")
	port := fs.Int("port", 8233, "HTTP port")
	temporal := fs.String("temporal-address", "127.0.0.1:7233", "Temporal frontend gRPC address")
	codec := fs.String("codec-endpoint", "", "codec server URL the browser calls to decode payloads")
	publicPath := fs.String("public-path", "", "path prefix the UI is served under, e.g. /temporal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                devserver.MaybeEscapeIPv6(*ip),
		Port:                *port,
		TemporalGRPCAddress: *temporal,
		EnableUI:            true,
		PublicPath:          *publicPath,
		Codec: uiconfig.Codec{
			Endpoint: *codec,
			// The browser sends its cookies to the codec server, so the codec can check the
			// same session as the proxy in front of the UI. PassAccessToken stays off: behind
			// the proxy the browser never holds the Temporal token.
			IncludeCredentials: *codec != "",
		},
		// Plain HTTP on loopback; the CSRF cookie must still reach the UI.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
	}))
	failed := make(chan error, 1)
	go func() { failed <- ui.Start() }()
	fmt.Fprintf(os.Stderr, "tavio-temporal: UI on http://%s:%d%s for Temporal at %s\n", *ip, *port, *publicPath, *temporal)
	stopped := make(chan struct{})
	go func() { waitForStop(); close(stopped) }()
	select {
	case err := <-failed:
		return fmt.Errorf("UI server stopped: %w", err)
	case <-stopped:
		ui.Stop()
		return nil
	}
}
