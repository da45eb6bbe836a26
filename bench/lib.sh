# Helpers shared by the bench scripts (sourced after they cd to the repository root). Callers keep the PIDs
# they started in the array PIDS, which others() leaves out.
log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}
# Below the kernel's ephemeral range: a port from inside it can be taken by any outgoing connection (an agent's,
# curl's) between this check and the server's bind, which failed a bench run ("Port ... seems to be in use").
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  (( low > 11024 )) || low=32768
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "no free port found"; return 1
}
wait_http() {
  local url=$1 pid=$2 what=$3
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "$what exited before it answered"; return 1; }
    sleep 0.5
  done
  log "$what did not answer 2xx at $url within 60 s"; return 1
}
wait_sock() {
  local sock=$1 pid=$2 what=$3
  for _ in $(seq 1 300); do
    [[ -S "$sock" ]] && return 0
    kill -0 "$pid" 2>/dev/null || { log "$what exited before its socket appeared"; return 1; }
    sleep 0.1
  done
  log "$what: no socket $sock within 30 s"; return 1
}
# the busiest processes that are not ours (ps %CPU is a lifetime average): other engineers' builds show up here
others() {
  local mine=" ${PIDS[*]} $$ "
  ps -eo pid=,ppid=,pcpu=,comm= --sort=-pcpu | awk -v mine="$mine" \
    'index(mine, " " $1 " ") == 0 && index(mine, " " $2 " ") == 0 && $3 >= 10 {printf "%s%s(pid %s, %s%%)", sep, $4, $1, $3; sep=", "}
     END {if (!sep) printf "none"}'
}
cpu_secs() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_delta() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
# rand_hex BYTES: that many random bytes in hex (bootstrap tokens, name suffixes)
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# build_sluice [agent]: unless BENCH_SKIP_BUILD=1, packages the embedded control plane (and, with "agent", the agent)
# into target/ and agent/target/ (the log in $WORK/build.log); then exits unless the jars are there
build_sluice() {
  if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building the embedded control plane${1:+ and the agent}"
    mvn -B -q package -DskipTests -Dquarkus.profile=embedded >"$WORK/build.log" 2>&1 \
      || { tail -50 "$WORK/build.log" >&2; log "control plane build failed"; exit 1; }
    if [[ "${1:-}" == agent ]]; then
      mvn -B -q -f agent/pom.xml package -DskipTests >>"$WORK/build.log" 2>&1 \
        || { tail -50 "$WORK/build.log" >&2; log "agent build failed"; exit 1; }
    fi
  fi
  [[ -f target/quarkus-app/quarkus-run.jar ]] || { log "target/quarkus-app/quarkus-run.jar missing"; exit 1; }
  if [[ "${1:-}" == agent && ! -f agent/target/sluice-agent.jar ]]; then log "agent/target/sluice-agent.jar missing"; exit 1; fi
}
# api METHOD PATH TOKEN [JSON]: a request to the control plane at $BASE; prints the body, or logs the answer and fails
# on a non-2xx status (the body goes through $WORK/body)
api() {
  local code
  code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $3" \
        -H 'Content-Type: application/json' ${4:+--data "$4"})
  if [[ "$code" != 2* ]]; then log "$1 $2 answered $code: $(cat "$WORK/body")"; return 1; fi
  cat "$WORK/body"
}

# stats V...: "median min max" of the values (the median of an even count is the mean of the middle two)
stats() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f\n", m, v[1], v[NR]}'
}
