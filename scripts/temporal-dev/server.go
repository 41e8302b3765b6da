package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/temporalio/cli/temporalcli/devserver"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"google.golang.org/grpc"
)

// Same defaults as `temporal server start-dev` (CLI v1.5.1), plus Nexus off: its HTTP routes
// on the frontend's HTTP port do not pass through gRPC interceptors, so they would skip
// authorization.
var dynamicConfig = map[string]any{
	"system.forceSearchAttributesCacheRefreshOnRead": true,
	"frontend.persistenceMaxQPS":                     10000,
	"history.persistenceMaxQPS":                      45000,
	"system.enableNexus":                             false,
}

type serverFlags struct {
	ip, dbFile, logLevel, jwksURL string
	port, httpPort                int
	jwksRefresh                   time.Duration
	namespaces                    repeated
}

func parseServerFlags(args []string) (*serverFlags, error) {
	f := &serverFlags{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&f.ip, "ip", "127.0.0.1", "IP address every listener binds to")
	fs.IntVar(&f.port, "port", 7233, "frontend gRPC port")
	fs.IntVar(&f.httpPort, "http-port", 0, "frontend HTTP API port (0 picks a free one)")
	fs.StringVar(&f.dbFile, "db-filename", "", "SQLite file for persistence (empty keeps everything in memory)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "server log level: debug, info, warn or error")
	fs.StringVar(&f.jwksURL, "jwks-url", "", "http(s) URL of the JWKS holding the token signing keys (required)")
	fs.DurationVar(&f.jwksRefresh, "jwks-refresh", 2*time.Second, "how often the JWKS is fetched again")
	fs.Var(&f.namespaces, "namespace", "namespace to create at start, besides \"default\" (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.jwksURL == "" {
		return nil, errors.New("--jwks-url is required: without signing keys no token can be checked")
	}
	if f.jwksRefresh <= 0 {
		// Temporal's key provider only re-fetches on a timer (and panics on Close without one).
		return nil, errors.New("--jwks-refresh must be positive")
	}
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		return nil, errors.New("needs Linux /proc to tell the server's own connections from others: " + err.Error())
	}
	if f.ip == "localhost" {
		f.ip = "127.0.0.1" // the server needs an IP, not a name
	}
	return f, nil
}

func runServer(args []string) error {
	f, err := parseServerFlags(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("invalid --log-level %q: %w", f.logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Temporal's key provider fetches with http.DefaultClient (nothing else in this process
	// uses it), which has no timeout: a JWKS endpoint that accepts but never answers would block
	// the start, and later stall every refresh for good. The provider also ignores the status:
	// an error answer with a JSON body ({"error": ...}) would replace the keys with none.
	// Failing such answers keeps the last good keys instead.
	http.DefaultClient = &http.Client{Timeout: 10 * time.Second, Transport: okOnly{http.DefaultTransport}}
	// The JWKS is usually not up yet (the control API starts after Temporal): the provider
	// logs the failed first fetch and picks the keys up on a later tick. One line a minute
	// is enough for the repeats.
	authLog := log.NewThrottledLogger(slogAdapter{logger}, func() float64 { return 1.0 / 60 })
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{
			KeySourceURIs:   []string{f.jwksURL},
			RefreshInterval: f.jwksRefresh,
		},
	}, authLog)
	defer keys.Close()

	authz := newAuthz(keys, authLog, newSelfPeers(), newDenialLog())
	server, err := devserver.Start(devserver.StartOptions{
		FrontendIP:       f.ip,
		FrontendPort:     f.port,
		FrontendHTTPPort: f.httpPort,
		Namespaces:       append([]string{"default"}, f.namespaces...),
		// Any ID will do, as with the CLI: a database file keeps the one it was created with.
		ClusterID:              uuid.NewString(),
		MasterClusterName:      "active",
		CurrentClusterName:     "active",
		InitialFailoverVersion: 1,
		Logger:                 logger,
		LogLevel:               level,
		DatabaseFile:           f.dbFile,
		DynamicConfigValues:    dynamicConfig,
		GRPCInterceptors:       []grpc.UnaryServerInterceptor{authz.intercept},
		// No UIIP: the Web UI runs as its own process (`tavio-temporal ui`).
	})
	if err != nil {
		return fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	fmt.Fprintf(os.Stderr, "tavio-temporal: server on %s:%d, JWKS %s (refresh %s)\n", f.ip, f.port, f.jwksURL, f.jwksRefresh)
	waitForStop()
	server.Stop()
	return nil
}

// slogAdapter lets Temporal's authorization pieces log through the server's slog handler.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(msg string, tags ...tag.Tag)  { a.log(slog.LevelDebug, msg, tags) }
func (a slogAdapter) Info(msg string, tags ...tag.Tag)   { a.log(slog.LevelInfo, msg, tags) }
func (a slogAdapter) Warn(msg string, tags ...tag.Tag)   { a.log(slog.LevelWarn, msg, tags) }
func (a slogAdapter) Error(msg string, tags ...tag.Tag)  { a.log(slog.LevelError, msg, tags) }
func (a slogAdapter) DPanic(msg string, tags ...tag.Tag) { a.log(slog.LevelError, msg, tags) }
func (a slogAdapter) Panic(msg string, tags ...tag.Tag)  { a.log(slog.LevelError, msg, tags) }
func (a slogAdapter) Fatal(msg string, tags ...tag.Tag)  { a.log(slog.LevelError, msg, tags) }

func (a slogAdapter) log(level slog.Level, msg string, tags []tag.Tag) {
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	a.l.LogAttrs(context.Background(), level, msg, attrs...)
}

// okOnly turns any answer but 200 into an error.
type okOnly struct{ next http.RoundTripper }

func (t okOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s answered %s", req.URL, resp.Status)
	}
	return resp, err
}
