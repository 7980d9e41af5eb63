# syntax=docker/dockerfile:1
# Images of the sync job. The default target (the last stage, "job") holds the
# job alone; the Webex simulator of the compose demo is its own target:
#   docker build -t wxc-sync .                       # production
#   docker build --target webexsim -t webexsim .     # the demo's simulator
# The build context has no .git (.dockerignore), so the version and revision
# come from build arguments:
#   docker build --build-arg VERSION=v0.2.0 --build-arg REVISION=$(git rev-parse HEAD) .
# The builds fetch only the modules the binaries import, into a module
# cache kept between builds: "go mod download" would fetch every module of
# go.mod, the tests' too (testcontainers, the Kubernetes API, compose-go).
FROM golang:1.26.8-alpine AS build
WORKDIR /src
COPY . .
ARG VERSION=""
ARG REVISION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/wxc-inventory/wxc-sync/internal/cli.stampedVersion=${VERSION} -X github.com/wxc-inventory/wxc-sync/internal/cli.stampedRevision=${REVISION}" \
      -o /out/wxc-sync ./cmd/sync

FROM build AS build-webexsim
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/webexsim ./cmd/webexsim \
 && mkdir -p /out/ids

# The simulator, for the compose demo only. It writes its device IDs to /ids.
FROM gcr.io/distroless/static-debian12:nonroot AS webexsim
COPY --from=build-webexsim /out/webexsim /usr/local/bin/webexsim
COPY --from=build-webexsim --chown=65532:65532 /out/ids /ids
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/webexsim"]

# The production image: the job and nothing else. The user is numeric so
# that Kubernetes can enforce runAsNonRoot (a user name cannot be checked).
FROM gcr.io/distroless/static-debian12:nonroot AS job
COPY --from=build /out/wxc-sync /usr/local/bin/wxc-sync
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/wxc-sync"]
CMD ["run"]
