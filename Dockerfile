# k8s-gsidecar: one compiled binary on a distroless base, running as a non-root user.
#   docker build -t k8s-gsidecar .
# The build stage uses the official Deno image, whose `deno compile` fetches the matching denort.
# Behind a firewall, provide denort yourself: --build-arg DENORT_BIN=/path/in/context/denort
FROM denoland/deno:debian-2.9.6 AS build
ARG DENORT_BIN=
WORKDIR /src
# .dockerignore keeps tests, caches and outputs out of the context.
COPY . .
RUN if [ -n "$DENORT_BIN" ]; then export DENORT_BIN="/src/$DENORT_BIN"; fi \
 && deno install --frozen --entrypoint main.ts \
 && deno task compile \
 && ./dist/k8s-gsidecar </dev/null 2>&1 | grep -q "invalid configuration"

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/k8s-gsidecar /usr/local/bin/k8s-gsidecar
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/k8s-gsidecar"]
