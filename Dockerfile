# syntax=docker/dockerfile:1
# A small static image of the sync job (and the simulator, for the compose demo).
FROM golang:1.26.8-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/wxc-sync ./cmd/sync \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/webexsim ./cmd/webexsim \
 && mkdir -p /out/ids

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wxc-sync /out/webexsim /usr/local/bin/
# The compose demo's simulator writes its device IDs here, as nonroot.
COPY --from=build --chown=65532:65532 /out/ids /ids
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/wxc-sync"]
CMD ["run"]
