# syntax=docker/dockerfile:1
#
# parley: a static binary on distroless, run as the nonroot user (65532).
#   docker build -t parley --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 2222:2222 -p 8080:8080 -v parley-data:/data \
#     -e PARLEY_ADMIN_KEYS="$(cat ~/.ssh/id_ed25519.pub)" parley
# The host key is generated into /data on first start, or comes from the
# PARLEY_HOST_KEY secret; it is never part of the image.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that editing the code does not refetch them.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
# Empty: parley --version says "devel" (.git is not in the build context).
ARG VERSION=
# /data is 0700: parley refuses a data dir others may write (as OpenSSH's
# StrictModes), and nobody else needs to read it.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/parley . \
    && mkdir -p -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/parley /parley
# An empty data dir owned by nonroot, mode 0700, so a fresh volume mounted
# here is writable by parley only (Docker copies owner and mode into a new
# named volume; a bind mount keeps the host directory's: chmod 700 it).
COPY --from=build --chown=65532:65532 /out/data /data
# The ops listener (metrics, /healthz, /readyz) binds all interfaces inside
# the container so that platform checks can reach it; do not publish 9091.
# The web page listens on all interfaces too (its default is loopback,
# which nothing outside the container could reach); publish 8080, or put a
# TLS proxy in front of it (deploy/README.md).
ENV PARLEY_DATA_DIR=/data \
    PARLEY_LISTEN=:2222 \
    PARLEY_WEB=:8080 \
    PARLEY_OPS=0.0.0.0:9091 \
    PARLEY_NO_SEED_KEYS=1
USER 65532:65532
VOLUME /data
EXPOSE 2222 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/parley", "healthcheck"]
ENTRYPOINT ["/parley"]
