# Portunus container: build stage compiles TypeScript, runtime stage carries only
# production dependencies and the compiled output, and runs as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/portunus
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
# Janus-style configuration path; mount your own conf/ here.
COPY conf /opt/janus/etc/janus
USER node
EXPOSE 8088/tcp 8188/tcp 7088/tcp 10000-10500/udp
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8088/janus/info').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/main.js", "--configs-folder", "/opt/janus/etc/janus"]
