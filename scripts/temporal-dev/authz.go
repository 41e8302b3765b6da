package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/namespace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

const (
	methodGetClusterInfo = "/temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo"
	methodListNamespaces = "/temporal.api.workflowservice.v1.WorkflowService/ListNamespaces"
	authHeader           = "authorization"
)

// The same answer Temporal gives, so a caller learns nothing from which check refused it.
var errDenied = serviceerror.NewPermissionDenied(authorization.RequestUnauthorized, "")

// authz puts every frontend call (gRPC and the HTTP API, which runs the same interceptor
// chain) through Temporal's own JWT claim mapper and default authorizer, with three local
// rules on top: token-less calls from this process are the server's own and pass; any valid
// token may read the cluster info; a namespace-scoped token lists only its namespaces.
type authz struct {
	temporal *authorization.Interceptor
	claims   authorization.ClaimMapper
	self     *selfPeers
	denials  *slog.Logger
}

func newAuthz(keys authorization.TokenKeyProvider, logger log.Logger, self *selfPeers, denials *slog.Logger) *authz {
	claims := expiringTokens{authorization.NewDefaultJWTClaimMapper(keys, &config.Authorization{}, logger)}
	return &authz{
		temporal: authorization.NewInterceptor(
			claims,
			authorization.NewDefaultAuthorizer(),
			metrics.NoopMetricsHandler,
			// Temporal's own "Authorization error" lines would repeat ours without the method.
			log.NewNoopLogger(),
			anyNamespace{},
			nil, "", "",
			dynamicconfig.GetBoolPropertyFn(false),
		),
		claims:  claims,
		self:    self,
		denials: denials,
	}
}

// newDenialLog writes one line per refused call to stderr, whatever the server's log level.
func newDenialLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func (a *authz) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	token := bearer(ctx)
	// Health checks never need the /proc lookup: Temporal lets them through on its own.
	if token == "" && !authorization.IsHealthCheckAPI(info.FullMethod) && a.self.isSelf(ctx) {
		return handler(ctx, req)
	}
	switch info.FullMethod {
	case methodGetClusterInfo, methodListNamespaces:
		return a.clusterRead(ctx, req, info, handler, token)
	}
	reached := false
	resp, err := a.temporal.Intercept(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		reached = true
		return handler(ctx, req)
	})
	if !reached && err != nil {
		a.logDenial(info.FullMethod, req, token, nil)
	}
	return resp, err
}

// clusterRead serves the two cluster-scoped reads the Web UI needs on every page. Temporal
// would demand a cluster-wide role for both.
func (a *authz) clusterRead(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler, token string) (any, error) {
	claims, err := a.verify(token)
	if err != nil {
		a.logDenial(info.FullMethod, req, token, err)
		return nil, errDenied
	}
	if info.FullMethod != methodListNamespaces || claims.System >= authorization.RoleReader {
		return handler(ctx, req)
	}
	request, ok := req.(*workflowservice.ListNamespacesRequest)
	if !ok {
		return nil, errDenied
	}
	return a.visibleNamespaces(ctx, request, handler, claims)
}

// visibleNamespaces answers a namespace-scoped token with all of its namespaces in one page. The
// cluster's pages hold every tenant's namespaces, so a filtered page could come back empty with
// more to follow, and the Web UI's namespace switcher would show nothing.
func (a *authz) visibleNamespaces(ctx context.Context, request *workflowservice.ListNamespacesRequest, handler grpc.UnaryHandler, claims *authorization.Claims) (any, error) {
	page := &workflowservice.ListNamespacesRequest{
		PageSize:        1000,
		NamespaceFilter: request.GetNamespaceFilter(),
	}
	answer := &workflowservice.ListNamespacesResponse{}
	for {
		resp, err := handler(ctx, page)
		if err != nil {
			return nil, err
		}
		list, ok := resp.(*workflowservice.ListNamespacesResponse)
		if !ok {
			return nil, errDenied
		}
		for _, ns := range list.Namespaces {
			if claims.Namespaces[ns.GetNamespaceInfo().GetName()] >= authorization.RoleReader {
				answer.Namespaces = append(answer.Namespaces, ns)
			}
		}
		if len(list.NextPageToken) == 0 {
			return answer, nil
		}
		page.NextPageToken = list.NextPageToken
	}
}

func (a *authz) verify(token string) (*authorization.Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("no token")
	}
	return a.claims.GetClaims(&authorization.AuthInfo{AuthToken: token})
}

// logDenial names the method, namespace, subject and reason of a refused call, never the token.
// Denials are rare, so checking the token a second time to find the reason costs nothing.
func (a *authz) logDenial(method string, req any, token string, reason error) {
	subject := ""
	if reason == nil {
		claims, err := a.verify(token)
		switch {
		case err != nil:
			reason = err
		default:
			subject = claims.Subject
			reason = fmt.Errorf("permissions %s do not allow this call", describe(claims))
		}
	}
	if subject == "" && token != "" {
		subject = unverifiedSubject(token)
	}
	ns := ""
	if withNs, ok := req.(interface{ GetNamespace() string }); ok {
		ns = withNs.GetNamespace()
	}
	a.denials.Warn("authorization denied",
		"method", method[strings.LastIndex(method, "/")+1:],
		"namespace", ns,
		"subject", subject,
		"reason", reason.Error())
}

func bearer(ctx context.Context) string {
	// The first value, as Temporal's interceptor reads it.
	if values := metadata.ValueFromIncomingContext(ctx, authHeader); len(values) > 0 {
		return values[0]
	}
	return ""
}

// expiringTokens refuses tokens without "exp". Temporal's mapper accepts them, and such a token
// would stay good for as long as its signing key is published.
type expiringTokens struct{ authorization.ClaimMapper }

func (m expiringTokens) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	claims, err := m.ClaimMapper.GetClaims(info)
	if err != nil || info.AuthToken == "" {
		return claims, err
	}
	// The signature was checked just above, so reading the payload again is safe.
	if payload, ok := unverifiedClaims(info.AuthToken); !ok || payload["exp"] == nil {
		return nil, errors.New("token has no exp claim")
	}
	return claims, nil
}

// unverifiedClaims decodes the payload of "Bearer <jwt>" without checking anything.
func unverifiedClaims(header string) (jwt.MapClaims, bool) {
	_, raw, ok := strings.Cut(header, " ")
	claims := jwt.MapClaims{}
	if !ok {
		return nil, false
	}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return nil, false
	}
	return claims, true
}

// unverifiedSubject reads "sub" from a token that was refused, marked as unchecked.
func unverifiedSubject(token string) string {
	claims, ok := unverifiedClaims(token)
	if !ok {
		return "(unreadable token)"
	}
	if sub, ok := claims["sub"].(string); ok {
		return sub + " (unverified)"
	}
	return "(no sub)"
}

func describe(claims *authorization.Claims) string {
	var parts []string
	if claims.System != authorization.RoleUndefined {
		parts = append(parts, fmt.Sprintf("temporal-system:%d", claims.System))
	}
	for ns, role := range claims.Namespaces {
		parts = append(parts, fmt.Sprintf("%s:%d", ns, role))
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "] (roles: 1 worker, 2 read, 4 write, 8 admin)"
}

// anyNamespace answers Temporal's interceptor, which asks only to tag metrics (a no-op here).
type anyNamespace struct{}

func (anyNamespace) Exists(namespace.Name) error { return nil }
