# Multi-stage: dependencies are installed without dev tools; the image runs as a non-root user.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY spec ./spec
COPY generated ./generated
COPY src ./src
USER node
EXPOSE 9763
CMD ["node", "--import", "tsx", "src/server.ts"]
