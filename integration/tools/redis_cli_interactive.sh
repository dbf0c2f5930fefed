#!/usr/bin/env bash
# Drives redis-cli's interactive mode (linenoise, a real terminal from tmux) against PORT with
# one command of each family, and prints the screen with the prompt's port replaced by PORT,
# so the screens for frontcache and for Redis directly can be compared.
#   integration/tools/redis_cli_interactive.sh PORT PUBLISH_PORT
set -euo pipefail
port="$1"
publish_port="$2"
session="fc-cli-$$"
tmux new-session -d -s "$session" -x 220 -y 200 "redis-cli -p $port"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
screen() { tmux capture-pane -t "$session" -p -S -; }
# Waits (up to 30 s, a hang guard) until the screen holds `count` lines matching `pattern`:
# each step waits for redis-cli's answer, never for an amount of time.
wait_for() {
  local pattern="$1" count="$2"
  for _ in $(seq 1500); do
    (($(screen | grep -cE -- "$pattern") >= count)) && return 0
    sleep 0.02
  done
  echo "redis_cli_interactive: no '$pattern' x$count on the screen" >&2
  return 1
}
prompt="^127\.0\.0\.1:$port"
wait_for "$prompt" 1
commands=(
  "ping" "echo hello" "select 3" "dbsize" "set s 1" "incr s" "append s x" "get s" "strlen s"
  "mset a 1 b 2" "mget a b nokey" "hset h f1 v1 f2 v2" "hget h f1" "hgetall h" "hlen h"
  "rpush l a b c" "lrange l 0 -1" "lpop l" "llen l" "sadd st x y" "sismember st x" "scard st"
  "zadd z 1 one 2 two" "zrange z 0 -1 withscores" "zscore z two" "exists s h nokey"
  "expire s 100" "ttl s" "type h" "del a b" "get a" "eval \"return redis.call('get', KEYS[1])\" 1 s"
  "multi" "set t 1" "incr t" "exec" "watch t" "unwatch" "rpush q job" "blpop q 1"
  "client setname cli" "client getname" "set wrongtype 1" "lpush wrongtype x" "nosuchcommand"
  "get"
)
typed=0
for c in "${commands[@]}"; do
  tmux send-keys -t "$session" -l "$c"
  tmux send-keys -t "$session" Enter
  typed=$((typed + 1))
  wait_for "$prompt" $((typed + 1))   # answered: the next prompt is there
done
tmux send-keys -t "$session" -l "subscribe ch"
tmux send-keys -t "$session" Enter
wait_for "Reading messages" 1
redis-cli -p "$publish_port" publish ch hello >/dev/null
wait_for "^3\) \"hello\"" 1
screen | sed "s/127\.0\.0\.1:$port/127.0.0.1:PORT/g" | sed '/^$/d'
