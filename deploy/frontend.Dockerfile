# PFlow web UI: the React + Vite app built with Node, served by an unprivileged nginx on port 5173,
# which also forwards /api, /healthz and /readyz to the API container (deploy/nginx/default.conf).
#
#   docker build -f deploy/frontend.Dockerfile -t pflow-frontend .     # from the repository root
#
# No `# syntax=` line, for the same reason as deploy/Dockerfile (offline build hosts).

FROM node:20-bookworm-slim AS build
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.28-alpine
COPY deploy/nginx/default.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/frontend/dist/ /usr/share/nginx/html/
EXPOSE 5173
