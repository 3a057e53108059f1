# Parley in a container. Not built in the session that wrote it (no container engine there):
# build with `docker build -t parley .`, run with `docker run -p 3000:3000 -v parley-data:/data parley`.

# Stage 1: install the dependencies (better-sqlite3 compiles here, with the build tools).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY client/package.json client/package.json
RUN npm ci --omit=dev

# Stage 2: the runtime, without build tools, as an unprivileged user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data DATABASE_URL=sqlite:/data/parley.db
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json tsconfig.json knexfile.ts ./
COPY lib lib
COPY routes routes
COPY migrations migrations
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node directly (not npm): SIGTERM from `docker stop` reaches the server, which closes streams and exits 0.
CMD ["node", "--import", "tsx", "lib/server.ts"]
