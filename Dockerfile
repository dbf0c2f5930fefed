# frontcache container image.
#   build:   Debian 12 with the project's own scripts/install-deps.sh (the same packages as a
#            developer machine and CI), then the `release` CMake preset. The integration service
#            of docker-compose.yml runs from this stage: it has the tests, redis-server, node.
#   runtime: Debian 12 slim with only the shared libraries the binary links, a non-root user,
#            and a HEALTHCHECK that PINGs the proxy.
# tests/deploy/check_deploy.sh checks that the runtime packages cover `ldd frontcache`.

FROM debian:12 AS build
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# Again, now that integration/node/package.json is here: its npm install (ioredis) runs.
RUN bash scripts/install-deps.sh \
 && cmake --preset release \
 && cmake --build build -j"$(nproc)"

FROM debian:12-slim AS runtime
# Runtime libraries of build/frontcache (keep in step with `ldd`), redis-cli for the healthcheck,
# the system's CA certificates for `upstream.tls: true`.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libhiredis0.14 libfmt9 libspdlog1.10 libyaml-cpp0.7 libssl3 ca-certificates redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin frontcache
COPY --from=build /src/build/frontcache /usr/local/bin/frontcache
COPY config/ /etc/frontcache/
USER frontcache
# 6380: Redis protocol; 9121: Prometheus /metrics.
EXPOSE 6380 9121
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD redis-cli -h 127.0.0.1 -p 6380 ping | grep -q PONG || exit 1
# SIGTERM drains in-flight requests (shutdown_timeout); SIGHUP reloads the config file.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/frontcache"]
CMD ["--config", "/etc/frontcache/frontcache.docker.yaml"]
