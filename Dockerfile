# Portunus, a Janus-compatible WebRTC gateway, as a container.
#
#   docker build -t portunus .            (or: podman build --format docker -t portunus .)
#   docker compose up -d                  (or: podman-compose up -d)   see docker-compose.yml
#
# Stage 1 compiles the TypeScript and drops the dev dependencies; stage 2 carries only the production
# node_modules, the compiled server and the default conf/, and runs as the unprivileged "node" user.
# scripts/container-build-check.mjs replays these steps on a clean copy of the repository (CI runs it
# from test/ops/container-build.test.ts), so keep to WORKDIR/COPY/RUN/ENV/USER and exec-form
# ENTRYPOINT/HEALTHCHECK there.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: no production dependency has one (janode's optional native helper is dev-only).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# The Admin API (7088, 7188) and /metrics (7089) listen on 127.0.0.1 in conf/; a container's loopback
# cannot be published, so bind them to every interface of the container instead. docker-compose.yml
# publishes them on the HOST's 127.0.0.1 only. Set PORTUNUS_ADMIN_IP= (empty) to keep conf/'s addresses.
ENV PORTUNUS_ADMIN_IP=0.0.0.0
WORKDIR /opt/portunus
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Janus-style configuration path (as in Janus images built with --prefix=/opt/janus); mount your conf/ here.
COPY conf /opt/janus/etc/janus
USER node
# Janus API over HTTP and WebSocket, Admin API (HTTP, WebSocket), metrics, RTP/RTCP media.
EXPOSE 8088/tcp 8188/tcp 7088/tcp 7188/tcp 7089/tcp 10000-10500/udp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8088/janus/info').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/src/main.js", "--configs-folder", "/opt/janus/etc/janus"]
