# PFlow web UI: the React + Vite app built with Node, served over TLS by an unprivileged nginx,
# which also forwards /api, /healthz and /readyz to the API container (deploy/nginx/default.conf).
#
#   docker build -f deploy/frontend.Dockerfile -t pflow-frontend .     # from the repository root
#
# No `# syntax=` line, for the same reason as deploy/Dockerfile (offline build hosts).
#
# Base images are pinned by digest (name:tag@sha256:...), taken from public files pinning that exact
# name:tag; deploy/pin-images.sh re-resolves them from the registry where one is reachable.

FROM node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS build
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.28-alpine@sha256:7377697a821c131a924a7105fafbe7414db4e9fcc77a6f08f776f33f141ec3f8
COPY deploy/nginx/default.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/frontend/dist/ /usr/share/nginx/html/
# 8443: HTTPS, 8080: redirects to HTTPS, 8081 (loopback): the health check (deploy/nginx/default.conf).
EXPOSE 8080 8443
