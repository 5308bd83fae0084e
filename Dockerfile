# calilab: one image, one process per container (`calilab run <component> ...`).
# Build: docker build -t calilab .     Run the lab: docker compose up
FROM node:20-bookworm-slim
WORKDIR /opt/calilab
ENV NODE_ENV=production CALILAB_HOME=/var/lib/calilab
# Dependencies first (cached layer), then the sources (TypeScript, run through tsx).
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
COPY packages ./packages
RUN mkdir -p /var/lib/calilab
ENTRYPOINT ["node", "packages/cli/bin/calilab.js"]
CMD ["--help"]
