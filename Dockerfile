# calilab: one image, one process per container (`calilab run <component> ...`).
# Build: docker build -t calilab .     Run the lab: docker compose up
FROM node:20-bookworm-slim
WORKDIR /opt/calilab
ENV NODE_ENV=production CALILAB_HOME=/var/lib/calilab
# Dependencies first (cached layer), then the sources (TypeScript), bundled once with esbuild so
# every container runs plain node (no tsx loader thread); bin/calilab.js picks the bundle up.
COPY package.json package-lock.json ./
COPY packages/kit/package.json packages/kit/
COPY packages/model/package.json packages/model/
COPY packages/proto/package.json packages/proto/
COPY packages/dataplane/package.json packages/dataplane/
COPY packages/apiserver/package.json packages/apiserver/
COPY packages/typha/package.json packages/typha/
COPY packages/bgp-speaker/package.json packages/bgp-speaker/
COPY packages/node-agent/package.json packages/node-agent/
COPY packages/testkit/package.json packages/testkit/
COPY packages/cli/package.json packages/cli/
RUN npm ci --ignore-scripts
COPY tsconfig.base.json ./
COPY packages ./packages
RUN node packages/cli/bin/bundle.js
RUN mkdir -p /var/lib/calilab
ENTRYPOINT ["node", "packages/cli/bin/calilab.js"]
CMD ["--help"]
