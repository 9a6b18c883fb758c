#!/usr/bin/env bash
# Makes the two base images the Dockerfile builds FROM, for a machine that cannot pull
# them (no registry reachable, as on the build and CI machines here), out of Debian's
# packages and this machine's Rust toolchain:
#
#   gzfleet-base/debian:bookworm-slim  debootstrap's minbase of Debian 12 with
#                                      ca-certificates: what debian:bookworm-slim holds
#   gzfleet-base/rust:bookworm         the same plus gcc and libc6-dev, and the Rust
#                                      toolchain rustup installed here (what rust:slim holds)
#
# Both are Debian 12, so the binaries built on the one run on the other (same glibc).
# An image that already exists is kept; FORCE=1 remakes both. Needs root (debootstrap)
# and Debian's mirror. Prints the --build-arg flags that select them.
set -euo pipefail

SLIM=gzfleet-base/debian:bookworm-slim
RUST=gzfleet-base/rust:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
have() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d /tmp/gzfleet-base.XXXXXX)
trap 'as_root rm -rf "$work"' EXIT

# Everything but the final line goes to stderr: callers read the flags from stdout
# (dpkg prints on stdout even under -qq).
command -v debootstrap >/dev/null || {
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}

# `docker import` of a root filesystem, without the caches debootstrap leaves behind.
import() {
  local root=$1 tag=$2
  shift 2
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/info
  as_root tar -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
  echo "made $tag" >&2
}

if ! have "$SLIM"; then
  as_root debootstrap --variant=minbase --include=ca-certificates bookworm "$work/slim" "$MIRROR" >"$work/slim.log" \
    || { tail -20 "$work/slim.log" >&2; exit 1; }
  import "$work/slim" "$SLIM" --change 'CMD ["bash"]'
fi

if ! have "$RUST"; then
  as_root debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev,binutils bookworm "$work/rust" "$MIRROR" >"$work/rust.log" \
    || { tail -20 "$work/rust.log" >&2; exit 1; }
  # The toolchain's programs and libraries, not its documentation (most of its size).
  toolchain=$(rustc --print sysroot)
  as_root mkdir -p "$work/rust/usr/local/rust" "$work/rust/usr/local/cargo"
  as_root cp -a "$toolchain/bin" "$toolchain/lib" "$work/rust/usr/local/rust/"
  import "$work/rust" "$RUST" \
    --change 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'CMD ["bash"]'
fi

echo "--build-arg RUST_IMAGE=$RUST --build-arg RUNTIME_IMAGE=$SLIM"
