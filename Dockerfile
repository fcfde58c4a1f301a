# Clusterdesk: one static binary with every asset embedded.
# Build: docker build -t clusterdesk .   Run: docker run -p 8080:8080 --env-file portal.env clusterdesk

# Front-end packages (htmx, its SSE extension, Pico CSS), pinned by package-lock.json.
FROM node:20-bookworm-slim AS assets
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=assets /src/web/node_modules web/node_modules
ARG VERSION=dev
RUN mkdir -p web/static/lib \
 && cp web/node_modules/htmx.org/dist/htmx.min.js web/node_modules/htmx-ext-sse/dist/sse.min.js \
       web/node_modules/@picocss/pico/css/pico.min.css web/static/lib/ \
 && go tool templ generate \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /portal ./cmd/portal

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /portal /portal
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/portal"]
CMD ["serve"]
