# syntax=docker/dockerfile:1
# One file, one target per process kind, all from one build:
#   docker build --target control-api -t tavio/control-api .
#   docker build --target migrate     -t tavio/migrate .
#   docker build --target region-host -t tavio/region-host .
# Configuration is by environment variables only (README, "Configuration reference").

FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# dist/: the processes compiled to JavaScript, the migrations, and the environment workers' code.
RUN npm run build && npm prune --omit=dev

FROM node:20.20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# Applies the control database's migrations under an advisory lock, then exits: a job run before
# new control API processes start (they run with TAVIO_MIGRATE_ON_START=false).
FROM runtime AS migrate
USER node
CMD ["node", "dist/scripts/migrate.js"]

# The control API (and, with TAVIO_WEB_UI_PORT, the Web UI gateway). Liveness: GET /healthz (the
# HEALTHCHECK: a container is replaced only when the process itself stops answering); readiness for
# the load balancer: GET /readyz (the control database answers and Temporal accepts the API's tokens).
FROM runtime AS control-api
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TAVIO_API_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/control-api/server.js"]

# A region host: runs each environment's worker as its own OS user behind nftables rules, so it
# needs root, the passwd tools and nft in its container (and CAP_NET_ADMIN on its host).
FROM runtime AS region-host
RUN apt-get update \
 && apt-get install -y --no-install-recommends nftables passwd \
 && rm -rf /var/lib/apt/lists/*
# Its /healthz (the HEALTHCHECK), /readyz and /metrics are served on one listener, on loopback unless
# TAVIO_HOST_METRICS_HOST says otherwise (set it to 0.0.0.0 for probes and scrapes from outside).
ENV TAVIO_HOST_METRICS_PORT=9464
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.TAVIO_HOST_METRICS_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/workers/region-host.js"]
