#!/usr/bin/env bash
# Checks the container files without a Docker engine:
#   1. docker-compose.yml is valid (`docker-compose config -q`) and has its test and cluster
#      profiles;
#   2. the Dockerfile's build stage installs and builds with the project's own scripts and
#      presets, and has no package list of its own;
#   3. the runtime stage installs the Debian package of every shared library the built binary
#      links (from `ldd` + `dpkg -S`), so the image cannot drift from the build;
#   4. the container configs load (`frontcache --check-config`), the cluster one too;
#   5. the runtime stage carries nothing but those libraries and the CA store (no build or test
#      tooling), runs as a numeric non-root UID, keeps --config in its ENTRYPOINT, and its HEALTHCHECK (the same
#      command as docker-compose.yml's) asks GET /readyz on the metrics port the container
#      config listens on;
#   6. deploy/systemd/frontcache.service is Type=notify and passes `systemd-analyze verify`.
# integration/deploy_test.cpp runs that HEALTHCHECK command against a live frontcache, and
# integration/startup_test.cpp checks the READY=1 / STOPPING=1 notifications.
# Usage: check_deploy.sh SOURCE_DIR FRONTCACHE_BINARY
set -euo pipefail
src="$1"
bin="$2"
fail() { echo "check_deploy: $*" >&2; exit 1; }

command -v docker-compose >/dev/null || fail "docker-compose missing: run scripts/install-deps.sh"
(cd "$src" && docker-compose -f docker-compose.yml config -q) || fail "docker-compose config -q failed"
(cd "$src" && docker-compose -f docker-compose.yml --profile test config --services) |
  grep -x integration >/dev/null || fail "docker-compose.yml has no integration service"
(cd "$src" && docker-compose -f docker-compose.yml --profile cluster config --services) |
  grep -x frontcache-cluster >/dev/null || fail "docker-compose.yml has no cluster profile (frontcache-cluster)"

dockerfile="$src/Dockerfile"
build_stage="$(awk '/^FROM /{stage=$NF} stage=="build"' "$dockerfile")"
runtime_stage="$(awk '/^FROM /{stage=$NF} stage=="runtime"' "$dockerfile")"
grep -q '^FROM debian:12 AS build' "$dockerfile" || fail "build stage is not Debian 12"
grep -q 'scripts/install-deps.sh' <<<"$build_stage" || fail "build stage does not run scripts/install-deps.sh"
grep -q 'cmake --preset release' <<<"$build_stage" || fail "build stage does not use the release preset"
if grep -q 'apt-get' <<<"$build_stage"; then fail "build stage installs packages outside scripts/install-deps.sh"; fi
user="$(awk '$1=="USER"{print $2}' <<<"$runtime_stage" | tail -1)"
[[ -n "$user" ]] || fail "runtime stage runs as root (no USER)"
[[ "$user" =~ ^[0-9]+(:[0-9]+)?$ ]] || fail "runtime USER $user is not numeric (Kubernetes runAsNonRoot needs a UID)"
[[ "${user%%:*}" != 0 ]] || fail "runtime USER is root"
grep -q '^HEALTHCHECK ' <<<"$runtime_stage" || fail "runtime stage has no HEALTHCHECK"
grep -A1 '^HEALTHCHECK ' <<<"$runtime_stage" | grep -q '/readyz' || fail "HEALTHCHECK does not ask /readyz"
grep -q '^ENTRYPOINT \[.*"--config"' <<<"$runtime_stage" ||
  fail "ENTRYPOINT does not pass --config: docker run IMAGE --upstream ... would drop the config"
if grep -q 'COPY --from=build' <<<"$runtime_stage" &&
  grep 'COPY --from=build' <<<"$runtime_stage" | grep -vq '/build/frontcache '; then
  fail "runtime stage copies more than the binary from the build stage"
fi

# The HEALTHCHECK command, and the same in docker-compose.yml for both frontcache services.
health="$(python3 - "$dockerfile" "$src/docker-compose.yml" <<'PY'
import json, re, sys, yaml
text = open(sys.argv[1]).read().replace("\\\n", " ")
line = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, re.M)
image = json.loads(line.group(1))
compose = yaml.safe_load(open(sys.argv[2]))
for name in ("frontcache", "frontcache-2", "frontcache-cluster"):
    test = compose["services"][name].get("healthcheck", {}).get("test")
    if test and test[1:] != image:
        sys.exit(f"docker-compose.yml {name} healthcheck differs from the image's HEALTHCHECK")
print(image[-1])
PY
)" || fail "HEALTHCHECK: $health"
metrics="$("$bin" --config "$src/config/frontcache.docker.yaml" --print metrics)"
[[ "$health" == *"/dev/tcp/127.0.0.1/${metrics##*:}"* ]] ||
  fail "HEALTHCHECK probes a port the container config does not listen on (metrics.listen: $metrics)"

# Base packages of debian:12-slim need not be listed.
base="libc6 libstdc++6 libgcc-s1"
needed=""
while read -r lib; do
  pkg=""
  # Merged /usr: dpkg may know the file under /lib or /usr/lib, as the link or its target.
  for path in "$lib" "/usr${lib#/usr}" "$(readlink -f "$lib")" "${lib#/usr}"; do
    pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)" && [[ -n "$pkg" ]] && break
  done
  [[ -n "$pkg" ]] || fail "no Debian package owns $lib"
  [[ " $base " == *" $pkg "* ]] && continue
  needed+=" $pkg"
  grep -qw -- "$pkg" <<<"$runtime_stage" || fail "runtime stage lacks $pkg (for $lib)"
done < <(ldd "$bin" | awk '$2=="=>" && $3 ~ /^\// {print $3}')

# ...and nothing else: no compiler, no redis-tools, no test tooling in the image. One data
# package is not a library but is read at run time: the system's CA store, which
# `upstream.tls` verifies Redis's certificate against when `upstream.tls.ca_file` is unset.
needed+=" ca-certificates"
installed="$(tr -d '\\' <<<"$runtime_stage" | tr '\n' ' ' |
  sed -n 's/.*apt-get install[^&]*--no-install-recommends\([^&]*\)&&.*/\1/p')"
[[ -n "${installed// /}" ]] || fail "cannot read the runtime stage's apt-get install list"
for pkg in $installed; do
  [[ " $needed " == *" $pkg "* ]] ||
    fail "runtime stage installs $pkg, which the binary does not link (build or test tooling?)"
done

"$bin" --config "$src/config/frontcache.docker.yaml" --check-config >/dev/null ||
  fail "config/frontcache.docker.yaml does not load"
"$bin" --config "$src/config/frontcache.docker-cluster.yaml" --check-config >/dev/null ||
  fail "config/frontcache.docker-cluster.yaml does not load"

# The systemd unit: Type=notify, starts the binary with the shipped config, and passes
# `systemd-analyze verify` (any warning fails) with the paths pointed at this build.
unit="$src/deploy/systemd/frontcache.service"
grep -qx 'Type=notify' "$unit" || fail "$unit is not Type=notify"
grep -q '^ExecStart=/usr/local/bin/frontcache --config /etc/frontcache/frontcache.yaml$' "$unit" ||
  fail "$unit does not start /usr/local/bin/frontcache with /etc/frontcache/frontcache.yaml"
if command -v systemd-analyze >/dev/null; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  sed -e "s|/usr/local/bin/frontcache|$(readlink -f "$bin")|" \
      -e "s|/etc/frontcache/frontcache.yaml|$src/config/frontcache.yaml|" "$unit" >"$tmp/frontcache.service"
  out="$(systemd-analyze verify --man=no "$tmp/frontcache.service" 2>&1)" ||
    fail "systemd-analyze verify: $out"
  [[ -z "$out" ]] || fail "systemd-analyze verify: $out"
else
  echo "check_deploy: systemd-analyze not installed; the unit's syntax is not verified"
fi
echo "check_deploy: ok"
