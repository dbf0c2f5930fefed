#!/usr/bin/env bash
# Installs the Debian packages frontcache needs to build, test and benchmark (DESIGN.md §4).
# Idempotent: runs `apt-get update` and `apt-get install` only when something is missing.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds nutcracker, gnuplot)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format git
  libboost1.81-dev libhiredis-dev libfmt-dev libspdlog-dev libyaml-cpp-dev zlib1g-dev
  # TLS (Asio's SSL over OpenSSL); the openssl CLI makes the integration tests' certificates.
  libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools tmux
  # promtool checks the /metrics exposition; `docker-compose config -q` checks docker-compose.yml
  # (there is no Docker engine on the build machines: only the compose file is validated).
  prometheus docker-compose
)
# Node.js (for the ioredis tests) may come from NodeSource, whose nodejs package bundles npm and
# conflicts with Debian's npm: install Debian's only when there is no node at all.
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(nutcracker gnuplot-nox)
fi
if command -v clang >/dev/null 2>&1; then
  packages+=(libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all packages present"
fi

# The distribution's redis-server package starts a service on 6379; tests start their own
# servers on free ports, so the system one is left alone.

# Node test dependencies for the integration suite (ioredis 5, ioredis 6 as `ioredis6`,
# node-redis), as package-lock.json pins them: installed when any of package.json's
# dependencies is missing from node_modules (a clean clone, or a checkout that added one).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_dir="$root/integration/node"
if [[ -f "$node_dir/package.json" ]] && command -v node >/dev/null 2>&1; then
  missing_node="$(cd "$node_dir" && node -e '
    const fs = require("fs");
    const deps = Object.keys(require("./package.json").dependencies || {});
    console.log(deps.filter((d) => !fs.existsSync(`node_modules/${d}/package.json`)).join(" "));')"
  if [[ -n "$missing_node" ]]; then
    echo "install-deps: npm install in integration/node ($missing_node missing)"
    (cd "$node_dir" && npm install --no-audit --no-fund --silent)
  fi
fi
