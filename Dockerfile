# One image with both commands: `gzfleet` (the coordinator) and `gzfleet-worker`.
#
#   docker build -t gzfleet .
#
# Built on the official Rust image and run on Debian's slim image by default. Both are
# build arguments, so a machine with no registry builds it from bases of its own
# (docker/base-images.sh makes them from Debian's packages; docker/test.sh does that),
# and another runtime base (say gcr.io/distroless/cc-debian12) can be chosen: the
# runtime stage runs nothing, it only copies. Written for the classic builder as well
# as BuildKit, since Debian's docker-compose 1.29 uses the former.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# true when the context carries the crates in vendor/ (docker/test.sh), so the build
# needs no network at all.
ARG CARGO_NET_OFFLINE=false
ENV CARGO_NET_OFFLINE=${CARGO_NET_OFFLINE}
WORKDIR /src
COPY . .
# --locked: the crates Cargo.lock names and no others. The binaries are stripped: the
# line tables the release profile keeps are for the project's own profiling.
RUN cargo build --release --locked --bin gzfleet --bin gzfleet-worker \
    && mkdir -p /out/bin /out/data /out/token \
    && strip -o /out/bin/gzfleet target/release/gzfleet \
    && strip -o /out/bin/gzfleet-worker target/release/gzfleet-worker

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/bin/ /usr/local/bin/
# /data: where a shared volume is mounted (the workers' --root); /token: where a fleet
# keeps its generated token (gzfleet-worker --init-token). Owned by the user below, so
# a named volume mounted there starts out writable by it.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/token /token
# Not root, and numeric so that Kubernetes' runAsNonRoot can check it without a passwd
# entry (distroless runtimes have none).
USER 65532:65532
WORKDIR /data
EXPOSE 7070
# A worker answers grpc.health.v1 with no shell or curl in the image. Coordinators run
# from this image disable it (docker-compose.yml does).
HEALTHCHECK --interval=5s --timeout=5s --start-period=5s --retries=3 \
    CMD ["gzfleet-worker", "--check", "127.0.0.1:7070"]
# As it stands this refuses to start, saying why: a worker listening beyond localhost
# needs a token, TLS, or an explicit --insecure.
CMD ["gzfleet-worker", "--listen", "0.0.0.0:7070"]
