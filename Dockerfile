# The gzfleet image for docker-compose.yml. No registry is reachable from the build
# machines, so nothing is pulled: the image is FROM scratch and holds the binaries and
# the shared libraries they link, assembled by docker/rootfs.sh. Run that first.
FROM scratch
COPY docker/rootfs/ /
ENV PATH=/usr/local/bin
