# shellcheck shell=bash
# free_port: prints a loopback TCP port nothing listens on (sourced by bench scripts).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % 20000))  # below the ephemeral range (32768+)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# wait_port PORT: waits up to 5 s for something to listen on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}
