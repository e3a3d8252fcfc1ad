# k8s-gsidecar: one compiled binary on a distroless base, running as a non-root user.
#
#   docker build -t k8s-gsidecar .                        # default: no shell at all
#   docker build --target shell -t k8s-gsidecar:shell .   # + busybox, for #!/bin/sh SCRIPTs
#
# The build stage uses the official Deno image, whose `deno compile` downloads the matching
# denort runtime from dl.deno.land. Where that host is unreachable, put a denort of the same
# version (2.9.6, linux x86_64 or aarch64 as built) in the build context and name it:
#   docker build --build-arg DENORT_BIN=denort -t k8s-gsidecar .
# (a path relative to the build context; an absolute path is taken inside the build image).

FROM denoland/deno:debian-2.9.6 AS build
ARG DENORT_BIN=
WORKDIR /src
# .dockerignore keeps tests, caches and outputs out of the context.
COPY . .
# An empty DENORT_BIN is not "unset" to deno compile ("Could not find denort at ''"): the
# build argument is exported only when given, and then as a path it can find.
RUN case "$DENORT_BIN" in \
      "") unset DENORT_BIN ;; \
      /*) export DENORT_BIN ;; \
      *) export DENORT_BIN="/src/$DENORT_BIN" ;; \
    esac \
 && deno install --frozen --entrypoint main.ts \
 && deno task compile
# The binary starts and judges its (empty) configuration: exit 2 is a configuration error, which
# is what it must say here; anything else (a crash, a missing embedded module) fails the build.
RUN ./dist/k8s-gsidecar </dev/null >/tmp/smoke.log 2>&1; code=$?; \
    if [ "$code" -ne 2 ]; then cat /tmp/smoke.log; echo "smoke run exited $code, not 2"; exit 1; fi

# busybox, statically linked, with one symlink per applet: the shell variant's /bin.
FROM debian:12-slim AS busybox
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox-static \
 && mkdir -p /rootfs/bin \
 && cp /bin/busybox /rootfs/bin/busybox \
 && for applet in $(/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/rootfs/bin/$applet"; \
    done \
 && /rootfs/bin/sh -c 'echo busybox sh works'

# What both images are: the binary and the C runtime it links (glibc, libgcc_s), as a non-root
# user.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/dist/k8s-gsidecar /usr/local/bin/k8s-gsidecar
# glibc gives blocks of 64 KiB or more their own mappings, returned to the system when freed,
# instead of keeping them in its heap after a sync, and keeps one heap for all threads instead of
# one per thread that Deno's helper threads each fill (README "Memory"; deno.json's start task and
# every test and benchmark run the sidecar with the same).
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536:glibc.malloc.arena_max=1
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/k8s-gsidecar"]

# The image with a POSIX shell and the usual small tools (busybox: sh, wget, sed, grep, kill…),
# for SCRIPTs that start with #!/bin/sh, as kiwigrid/k8s-sidecar users' do.
FROM runtime AS shell
COPY --from=busybox /rootfs/bin/ /bin/

# The default image (last stage, what a plain `docker build` produces): nothing beside the binary
# and the C runtime — no shell, so SCRIPT can only run static executables or programs the image
# gets from elsewhere.
FROM runtime AS default
