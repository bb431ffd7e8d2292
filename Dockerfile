# One image for every role: pick the role with WORKER_TYPE (or `nova start <role>`).
# Build: `nova docker build` (tags from git, labels filled in), or
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) .
# NODE_IMAGE=node:20-alpine builds the same image on Alpine (no native modules in production
# dependencies, so nothing to rebuild); docs/DEPLOY.md compares the two.
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs ./scripts/
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
# Unit tests (src/**/*.test.ts) stay out of the context (.dockerignore), so out of dist too.
# Type declarations, source maps, TypeScript sources and docs in node_modules are never loaded
# at run time: dropping them halves the production dependencies (116 MB -> ~60 MB, docs/DEPLOY.md).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.md' \) -delete

FROM ${NODE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/nova/nova
LABEL org.opencontainers.image.title="nova" \
      org.opencontainers.image.description="Durable background work on PostgreSQL: one image, every role" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}"
# NOVA_DATA_DIR is only used without DATABASE_URL (embedded PGlite): a directory the non-root
# user owns, so `docker run nova` works on its own for a trial.
ENV NODE_ENV=production NOVA_LOG_FORMAT=json WORKER_TYPE=all NOVA_DATA_DIR=/data
WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
USER node
EXPOSE 3001 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.WORKER_HEALTH_PORT||3001)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node is PID 1 on purpose, with no init in between: `nova start` installs its own SIGTERM and
# SIGINT handlers (stop claiming, finish or hand back running jobs, exit 0), and PID 1 receives
# every signal it handles. What PID 1 would lose is only the default action of signals it does
# not handle, and zombie reaping, which `nova start` never needs (it spawns no children).
# test/image-entrypoint.test.ts runs exactly this command line and sends it SIGTERM.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start"]
