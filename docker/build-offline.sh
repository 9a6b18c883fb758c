#!/usr/bin/env bash
# Builds the image docker-compose.yml runs (gzfleet:local) on a machine that reaches no
# container registry: the Dockerfile through the compose file's own build section, FROM
# bases made out of Debian's packages and this machine's Rust toolchain
# (docker/base-images.sh), with the crates vendored into a copy of the sources, so the
# build itself needs no network at all. About 6 minutes on 2 cores, most of it cargo.
#
#   docker/build-offline.sh && GZFLEET_USER=$(id -u):$(id -g) docker-compose up
#
# Needs Docker, docker-compose, cargo, git (the sources are the files git knows, so
# target/ and the like stay out), and root or sudo for debootstrap. With a registry,
# `docker-compose build` does the same from the official images.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

work=$(mktemp -d /tmp/gzfleet-offline.XXXXXX)
trap 'rm -rf "$work"' EXIT

bases=$(docker/base-images.sh | tail -n 1)
ctx=$work/context
mkdir -p "$ctx/.cargo"
git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - | tar -C "$ctx" -xf -
cargo vendor --locked "$ctx/vendor" 2>"$work/vendor.log" | sed "s|$ctx/||" >"$ctx/.cargo/config.toml" \
  || { cat "$work/vendor.log" >&2; exit 1; }
grep -q 'directory = "vendor"' "$ctx/.cargo/config.toml" \
  || { echo "build-offline.sh: cargo vendor gave an unexpected config: $(cat "$ctx/.cargo/config.toml")" >&2; exit 1; }

# The variables docker-compose.yml's build section reads.
read -r _ rust_arg _ runtime_arg <<<"$bases"
export GZFLEET_RUST_IMAGE=${rust_arg#RUST_IMAGE=} GZFLEET_RUNTIME_IMAGE=${runtime_arg#RUNTIME_IMAGE=}
export GZFLEET_CARGO_OFFLINE=true GZFLEET_CONTEXT=$ctx
echo "build-offline.sh: building gzfleet:local from $GZFLEET_RUST_IMAGE and $GZFLEET_RUNTIME_IMAGE (a few minutes)" >&2
# Every service uses the one image: building one builds it. In the background and
# waited for, so that a signal ends it between commands, where bash runs traps.
docker-compose --ansi never build --quiet token >"$work/build.log" 2>&1 &
wait $! || { tail -40 "$work/build.log" >&2; echo "build-offline.sh: the image did not build" >&2; exit 1; }
echo "build-offline.sh: gzfleet:local built in $((SECONDS - started))s" >&2
