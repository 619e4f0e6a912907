# Multi-stage: dependencies are installed without dev tools; the image runs as a non-root user.
#
# Node 24, the LTS line since October 2025 (supported until April 2028): every installed package's
# `engines` admits it, as package.json's `engines` does (test/unit/deploy-files.test.ts checks both).
# Not 26: it became LTS only in October 2026, and nothing here has been run on it yet; the suite
# runs on Node 20 (CI) and was run on 24.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DCR_DATA_DIR=/app/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY spec ./spec
COPY generated ./generated
# The TypeScript sources serve the `dcr` CLI (bin/dcr.js runs them through tsx); scripts/ serves
# `npm run migrate`, and `npm start`'s prestart (scripts/build.ts).
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
# dist/: src/ as plain JavaScript (scripts/build.ts, esbuild), what the CMD runs. Built here, from
# the very files the image ships, so that the build stamp (their paths and times) matches and an
# `npm start` in the container finds dist/ up to date instead of rebuilding it in a folder the
# runtime user cannot write.
RUN node --import tsx scripts/build.ts
# The embedded default (no DATABASE_URL) keeps its cluster and key here: owned by the runtime user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 9763
# The same check as docker-compose.yml's: node's fetch, as the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9763/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node runs as PID 1, in exec form (no npm or shell in between), and handles SIGTERM itself: it stops
# accepting, drains in-flight requests and stops the embedded PostgreSQL (README, "Stopping and
# restarting"). That takes up to 20 s, more than docker stop's default 10 s: run with
# `docker stop -t 30` (compose: stop_grace_period), and with --init (compose: init: true) so that an
# init process reaps the embedded postmaster, which pg_ctl leaves to PID 1.
STOPSIGNAL SIGTERM
CMD ["node", "--max-old-space-size=512", "dist/server.js"]
