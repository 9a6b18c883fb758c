#!/usr/bin/env bash
# Assembles docker/rootfs/ for the Dockerfile: gzfleet and gzfleet-worker built here,
# plus the shared libraries they link, at the paths the loader expects. The image is
# then FROM scratch, so `docker-compose build` needs no registry.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gzfleet --bin gzfleet-worker
root=docker/rootfs
rm -rf "$root"
mkdir -p "$root/usr/local/bin" "$root/tmp"
cp target/release/gzfleet target/release/gzfleet-worker "$root/usr/local/bin/"
libs=$(ldd target/release/gzfleet target/release/gzfleet-worker \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' | sort -u)
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Name resolution for dns: workers and the compose service names.
mkdir -p "$root/etc"
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
for lib in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libresolv.so.2; do
  if [ -e "$lib" ]; then mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; fi
done
echo "docker/rootfs ready: docker-compose build"
