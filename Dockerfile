# frontcache container image.
#   build:   Debian 12 with the project's own scripts/install-deps.sh (the same packages as a
#            developer machine and CI), then the `release` CMake preset. The integration service
#            of docker-compose.yml runs from this stage: it has the tests, redis-server, node.
#   runtime: Debian 12 slim with only the shared libraries the binary links (no compiler, no
#            redis-tools, no test tooling), running as a numeric non-root UID, with a
#            HEALTHCHECK on GET /readyz of the metrics listener.
# tests/deploy/check_deploy.sh checks all of this without a Docker engine (the runtime packages
# against `ldd frontcache`, in both directions), and integration/deploy_test.cpp runs the
# HEALTHCHECK command against a live frontcache.

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
# Runtime libraries of build/frontcache (keep in step with `ldd`; check_deploy.sh compares), and
# the system's CA certificates for `upstream.tls: true`.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libhiredis0.14 libfmt9 libspdlog1.10 libyaml-cpp0.7 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/frontcache /usr/local/bin/frontcache
COPY config/ /etc/frontcache/
# A numeric UID:GID, so that Kubernetes runAsNonRoot can verify it without a passwd entry.
USER 10001:10001
# 6380: Redis protocol; 9121: metrics listener (/metrics, /healthz, /readyz).
EXPOSE 6380 9121
# Ready = an upstream connection is up and invalidation armed (GET /readyz on the metrics
# listener of frontcache.docker.yaml). PING would not do: the proxy answers it itself, and with
# `auth:` set it answers NOAUTH.
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9121 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGTERM drains in-flight requests (shutdown_timeout); SIGHUP reloads the config file.
STOPSIGNAL SIGTERM
# The config is part of the entrypoint: `docker run IMAGE --upstream host:6379` adds an override
# instead of replacing it (a later --config FILE replaces the file: the last one wins).
ENTRYPOINT ["/usr/local/bin/frontcache", "--config", "/etc/frontcache/frontcache.docker.yaml"]
CMD []
