#!/usr/bin/env bash
# Checks the container files without a Docker engine:
#   1. docker-compose.yml is valid (`docker-compose config -q`);
#   2. the Dockerfile's build stage installs and builds with the project's own scripts and
#      presets, and has no package list of its own;
#   3. the runtime stage installs the Debian package of every shared library the built binary
#      links (from `ldd` + `dpkg -S`), so the image cannot drift from the build;
#   4. the container config loads (`frontcache --check-config`).
# Usage: check_deploy.sh SOURCE_DIR FRONTCACHE_BINARY
set -euo pipefail
src="$1"
bin="$2"
fail() { echo "check_deploy: $*" >&2; exit 1; }

command -v docker-compose >/dev/null || fail "docker-compose missing: run scripts/install-deps.sh"
(cd "$src" && docker-compose -f docker-compose.yml config -q) || fail "docker-compose config -q failed"
(cd "$src" && docker-compose -f docker-compose.yml --profile test config --services) |
  grep -qx integration || fail "docker-compose.yml has no integration service"

dockerfile="$src/Dockerfile"
build_stage="$(awk '/^FROM /{stage=$NF} stage=="build"' "$dockerfile")"
runtime_stage="$(awk '/^FROM /{stage=$NF} stage=="runtime"' "$dockerfile")"
grep -q '^FROM debian:12 AS build' "$dockerfile" || fail "build stage is not Debian 12"
grep -q 'scripts/install-deps.sh' <<<"$build_stage" || fail "build stage does not run scripts/install-deps.sh"
grep -q 'cmake --preset release' <<<"$build_stage" || fail "build stage does not use the release preset"
if grep -q 'apt-get' <<<"$build_stage"; then fail "build stage installs packages outside scripts/install-deps.sh"; fi
grep -q '^USER ' <<<"$runtime_stage" || fail "runtime stage runs as root"
grep -q '^HEALTHCHECK ' <<<"$runtime_stage" || fail "runtime stage has no HEALTHCHECK"

# Base packages of debian:12-slim need not be listed.
base="libc6 libstdc++6 libgcc-s1"
while read -r lib; do
  pkg=""
  # Merged /usr: dpkg may know the file under /lib or /usr/lib, as the link or its target.
  for path in "$lib" "/usr${lib#/usr}" "$(readlink -f "$lib")" "${lib#/usr}"; do
    pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)" && [[ -n "$pkg" ]] && break
  done
  [[ -n "$pkg" ]] || fail "no Debian package owns $lib"
  [[ " $base " == *" $pkg "* ]] && continue
  grep -qw -- "$pkg" <<<"$runtime_stage" || fail "runtime stage lacks $pkg (for $lib)"
done < <(ldd "$bin" | awk '$2=="=>" && $3 ~ /^\// {print $3}')

"$bin" --config "$src/config/frontcache.docker.yaml" --check-config >/dev/null ||
  fail "config/frontcache.docker.yaml does not load"
echo "check_deploy: ok"
