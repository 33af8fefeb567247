#!/usr/bin/env bash
# cluster.sh: cluster measurements of nacore on loopback, against the targets of the Distro work:
#   (throughput) http-register throughput of member 1 of a 3-member cluster over that of a
#                standalone nacore, same flags, same CPU                           target >= 0.75
#   (lag)        cluster-replication: new HTTP registrations at --rate on member 1, time until
#                each is pushed to a gRPC subscriber of member 2: lag p99, and registrations
#                never seen on member 2 ("missing")              target p99 <= 50 ms, 0 missing
#   (restart)    --instances ephemeral instances registered on member 1 (gRPC batch register,
#                held by the load generator's connections, so they need no beats), replicated
#                to every member; then member 3 is killed with SIGKILL and restarted with the
#                same arguments and data dir: time from its process start until readiness
#                answers 200, and its instance count against the others'
#                                                                target <= 10 s, counts equal
# and prints one table. Each part gets a freshly started cluster (or standalone server) with
# empty data directories.
#
# Members are started as
#   nacore --http-port P --members 127.0.0.1:C1,127.0.0.1:C2,127.0.0.1:C3 --cluster-port C
#          --data-dir DIR --cores 1 --bind 127.0.0.1 --log-level warn
# with C = P + 1001 and the gRPC port P + 1000 (nacore's defaults); the standalone server
# gets the same flags without --members and --cluster-port. Ready = GET
# /nacos/v1/console/health/readiness answers 200. Instance counts are `instanceCount` of GET
# /nacos/v1/ns/operator/metrics?onlyStatus=false (every instance the member holds).
#
# Until Distro replication of ephemeral instances lands in the server, members do not see each
# other's ephemeral instances: (lag) then reports every registration missing and (restart)
# reports the peers' counts as not replicated; both still run.
#
# Usage: loadgen/cluster.sh [options]      (run from anywhere; paths are relative to the workspace)
#   --nacore PATH          nacore binary                    [$NACORE_BIN or target/release/nacore]
#   --only LIST            parts to run, comma-separated: throughput,lag,restart  [$ONLY or all]
#   --duration D           (throughput) measured time per run               [$DURATION or 10s]
#   --warmup D             (throughput) unrecorded warmup per run             [$WARMUP or 2s]
#   --connections N        loadgen HTTP connections (throughput, lag)     [$CONNECTIONS or 64]
#   --repeat N             (throughput) standalone/cluster run pairs; the ratio shown is the
#                          median of the paired ratios                         [$REPEAT or 1]
#   --rate R               (lag) registrations per second                   [$RATE or 10000]
#   --lag-duration D       (lag) measured time; warmup + duration <= 15 s, the
#                          registrations send no beats                  [$LAG_DURATION or 10s]
#   --lag-warmup D         (lag) unrecorded warmup                        [$LAG_WARMUP or 2s]
#   --lag-services N       (lag) services the registrations spread over  [$LAG_SERVICES or 10000]
#   --grace D              (lag) time after the last write before unseen ones are missing
#                                                                            [$GRACE or 5s]
#   --instances N          (restart) instances in the cluster         [$INSTANCES or 1000000]
#                          (1000 services of N/1000 instances, rounded up; fewer than 1000:
#                          one instance per service)
#   --batch-connections N  (restart) gRPC connections registering them, one batch per service
#                          and connection                          [$BATCH_CONNECTIONS or 20]
#   --server-cpu N         CPU of member 1 and of the standalone server     [$SERVER_CPU or 0]
#   --peer-cpus A,B        CPUs of members 2 and 3 [$PEER_CPUS; default 2,3 with 4+ CPUs, 2,2
#                          with 3, else the server CPU (then member 1 shares its CPU with the
#                          peers' replication work and the throughput ratio is pessimistic)]
#   --loadgen-cpu N        CPU of the load generator                       [$LOADGEN_CPU or 1]
#   --base-port P          standalone HTTP port P, member i P + 10 i (their gRPC ports + 1000,
#                          cluster ports + 1001)                         [$BASE_PORT or 18848]
#   --settle S             after every member is ready, seconds for the members to exchange
#                          reports before measuring                            [$SETTLE or 3]
#   --ready-timeout S      seconds a server may take to become ready   [$READY_TIMEOUT_S or 60]
#   --replicate-timeout S  (restart) seconds the peers may take to hold every instance before
#                          the restart, and the restarted member after being ready, when it
#                          was not complete then (reported, for the record)
#                                                                   [$REPLICATE_TIMEOUT_S or 60]
#   --out DIR              where the JSON reports and logs go    [$OUT_DIR or a new temp dir]
# LOADGEN_BIN (env): the nacore-loadgen binary; default: built with cargo --release.
#
# Exit status: 0 when every part ran and met its target, 2 when a part missed its target (or
# could not measure it), 1 on a setup error (a server that does not start, a missing tool).

set -euo pipefail

WORKSPACE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NACORE_BIN="${NACORE_BIN:-$WORKSPACE/target/release/nacore}"
ONLY="${ONLY:-throughput,lag,restart}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
REPEAT="${REPEAT:-1}"
RATE="${RATE:-10000}"
LAG_DURATION="${LAG_DURATION:-10s}"
LAG_WARMUP="${LAG_WARMUP:-2s}"
LAG_SERVICES="${LAG_SERVICES:-10000}"
GRACE="${GRACE:-5s}"
INSTANCES="${INSTANCES:-1000000}"
BATCH_CONNECTIONS="${BATCH_CONNECTIONS:-20}"
SERVER_CPU="${SERVER_CPU:-0}"
PEER_CPUS="${PEER_CPUS:-}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"
BASE_PORT="${BASE_PORT:-18848}"
SETTLE="${SETTLE:-3}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-60}"
REPLICATE_TIMEOUT_S="${REPLICATE_TIMEOUT_S:-60}"
OUT_DIR="${OUT_DIR:-}"

die() { echo "cluster.sh: $*" >&2; exit 1; }
note() { echo "[cluster.sh] $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --nacore) NACORE_BIN="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --lag-duration) LAG_DURATION="$2"; shift 2 ;;
        --lag-warmup) LAG_WARMUP="$2"; shift 2 ;;
        --lag-services) LAG_SERVICES="$2"; shift 2 ;;
        --grace) GRACE="$2"; shift 2 ;;
        --instances) INSTANCES="$2"; shift 2 ;;
        --batch-connections) BATCH_CONNECTIONS="$2"; shift 2 ;;
        --server-cpu) SERVER_CPU="$2"; shift 2 ;;
        --peer-cpus) PEER_CPUS="$2"; shift 2 ;;
        --loadgen-cpu) LOADGEN_CPU="$2"; shift 2 ;;
        --base-port) BASE_PORT="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --ready-timeout) READY_TIMEOUT_S="$2"; shift 2 ;;
        --replicate-timeout) REPLICATE_TIMEOUT_S="$2"; shift 2 ;;
        --out) OUT_DIR="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

wants() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
for part in ${ONLY//,/ }; do
    case "$part" in throughput|lag|restart) ;; *) die "unknown part $part in --only" ;; esac
done
[[ "$INSTANCES" =~ ^[1-9][0-9]*$ ]] || die "--instances must be a positive integer"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer"

command -v taskset >/dev/null || die "taskset not found (util-linux)"
command -v python3 >/dev/null || die "python3 not found (used to read the JSON reports)"
command -v curl >/dev/null || die "curl not found (used to probe the servers)"
[ -x "$NACORE_BIN" ] || die "nacore binary $NACORE_BIN not found; cargo build --release -p nacore"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/nacore-cluster.XXXXXX)}"
mkdir -p "$OUT_DIR"

if [ -z "${LOADGEN_BIN:-}" ]; then
    (cd "$WORKSPACE" && cargo build --release -q -p nacore-loadgen) || die "cannot build nacore-loadgen"
    LOADGEN_BIN="${CARGO_TARGET_DIR:-$WORKSPACE/target}/release/nacore-loadgen"
fi
[ -x "$LOADGEN_BIN" ] || die "loadgen binary $LOADGEN_BIN not found"

CPUS="$(nproc)"
if [ -z "$PEER_CPUS" ]; then
    if [ "$CPUS" -ge 4 ]; then PEER_CPUS="2,3"
    elif [ "$CPUS" -ge 3 ]; then PEER_CPUS="2,2"
    else
        PEER_CPUS="$SERVER_CPU,$SERVER_CPU"
        note "only $CPUS CPUs: members 2 and 3 share CPU $SERVER_CPU with member 1" \
            "(the throughput ratio then includes their replication work on member 1's CPU)"
    fi
fi
MEMBER_CPUS=("" "$SERVER_CPU" "${PEER_CPUS%%,*}" "${PEER_CPUS##*,}")
STANDALONE_PORT="$BASE_PORT"
MEMBER_PORTS=("" $((BASE_PORT + 10)) $((BASE_PORT + 20)) $((BASE_PORT + 30)))
MEMBERS="127.0.0.1:$((MEMBER_PORTS[1] + 1001)),127.0.0.1:$((MEMBER_PORTS[2] + 1001)),127.0.0.1:$((MEMBER_PORTS[3] + 1001))"

# Every process this script started and has not stopped yet: servers and the holding loadgen.
MEMBER_PIDS=("" "" "" "")
STANDALONE_PID=""
HOLD_PID=""

stop_pid() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
stop_cluster() {
    for i in 1 2 3; do
        stop_pid "${MEMBER_PIDS[$i]}"
        MEMBER_PIDS[i]=""
    done
}
cleanup() {
    stop_pid "$HOLD_PID"
    HOLD_PID=""
    stop_cluster
    stop_pid "$STANDALONE_PID"
    STANDALONE_PID=""
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

http_code() { curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null || true; }

# port_free PORT: nothing answers HTTP on it (a leftover server would skew every figure).
port_free() { [ "$(http_code "$1" /nacos/v1/console/health/liveness)" = "000" ]; }

# wait_ready PORT PID LOG: polls readiness every 20 ms until 200; 1 if the process dies or
# READY_TIMEOUT_S passes.
wait_ready() {
    local port="$1" pid="$2" log="$3" deadline=$((SECONDS + READY_TIMEOUT_S))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(http_code "$port" /nacos/v1/console/health/readiness)" = "200" ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "cluster.sh: the server on port $port exited; see $log" >&2
            return 1
        fi
        sleep 0.02
    done
    echo "cluster.sh: the server on port $port was not ready within ${READY_TIMEOUT_S} s; see $log" >&2
    return 1
}

# start_member I LOG: starts member I pinned to its CPU with its data dir (kept across restarts).
start_member() {
    local i="$1" log="$2" port="${MEMBER_PORTS[$1]}"
    mkdir -p "$OUT_DIR/data-member-$i"
    taskset -c "${MEMBER_CPUS[$i]}" "$NACORE_BIN" --http-port "$port" --members "$MEMBERS" \
        --cluster-port $((port + 1001)) --data-dir "$OUT_DIR/data-member-$i" --cores 1 \
        --bind 127.0.0.1 --log-level warn >>"$log" 2>&1 &
    MEMBER_PIDS[i]=$!
}

# start_cluster PART: three members with empty data dirs, all ready, then SETTLE.
start_cluster() {
    local part="$1"
    for i in 1 2 3; do
        port_free "${MEMBER_PORTS[$i]}" || die "port ${MEMBER_PORTS[$i]} is in use"
        rm -rf "$OUT_DIR/data-member-$i"
        start_member "$i" "$OUT_DIR/member-$i-$part.log"
    done
    for i in 1 2 3; do
        wait_ready "${MEMBER_PORTS[$i]}" "${MEMBER_PIDS[$i]}" "$OUT_DIR/member-$i-$part.log" \
            || die "cluster did not start"
    done
    sleep "$SETTLE"
}

start_standalone() {
    local log="$OUT_DIR/standalone-$1.log" data="$OUT_DIR/data-standalone"
    port_free "$STANDALONE_PORT" || die "port $STANDALONE_PORT is in use"
    rm -rf "$data" && mkdir -p "$data"
    taskset -c "$SERVER_CPU" "$NACORE_BIN" --http-port "$STANDALONE_PORT" --data-dir "$data" \
        --cores 1 --bind 127.0.0.1 --log-level warn >"$log" 2>&1 &
    STANDALONE_PID=$!
    wait_ready "$STANDALONE_PORT" "$STANDALONE_PID" "$log" || die "standalone nacore did not start"
}

# loadgen ARGS...: the load generator pinned to LOADGEN_CPU, one core.
loadgen() { taskset -c "$LOADGEN_CPU" "$LOADGEN_BIN" "$@" --cores 1; }

# json FILE EXPR: a field of a JSON report (EXPR in Python over `r`), "n/a" if unreadable.
json() {
    python3 - "$1" "$2" <<'PY' 2>/dev/null || echo n/a
import json, sys
with open(sys.argv[1]) as f:
    r = json.loads(f.readline())
v = eval(sys.argv[2], {"r": r})
print("n/a" if v is None else v)
PY
}

instance_count() {
    curl -s -m 5 "http://127.0.0.1:$1/nacos/v1/ns/operator/metrics?onlyStatus=false" 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["instanceCount"])' 2>/dev/null \
        || echo n/a
}

counts_of() { echo "$(instance_count "${MEMBER_PORTS[1]}") $(instance_count "${MEMBER_PORTS[2]}") $(instance_count "${MEMBER_PORTS[3]}")"; }

# The table: one row per figure, with its target and verdict.
ROWS=()
MISSED=0
row() { ROWS+=("$1|$2|$3|$4"); [ "$4" = "missed" ] && MISSED=1; return 0; }

# verdict OK: "ok" or "missed".
verdict() { if [ "$1" = 1 ]; then echo ok; else echo missed; fi; }

# --- throughput ---------------------------------------------------------------------------
if wants throughput; then
    register=(http-register --connections "$CONNECTIONS" --services 1000
        --instances-per-service 10 --duration "$DURATION" --warmup "$WARMUP" --json --quiet)
    for rep in $(seq 1 "$REPEAT"); do
        note "throughput $rep/$REPEAT: http-register against a standalone nacore"
        start_standalone "throughput-$rep"
        loadgen "${register[@]}" --server "127.0.0.1:$STANDALONE_PORT" \
            >"$OUT_DIR/throughput-standalone-$rep.json" \
            2>"$OUT_DIR/throughput-standalone-$rep.loadgen.log" || true
        stop_pid "$STANDALONE_PID"
        STANDALONE_PID=""
        note "throughput $rep/$REPEAT: http-register against member 1 of 3"
        start_cluster "throughput-$rep"
        loadgen "${register[@]}" --server "127.0.0.1:${MEMBER_PORTS[1]}" \
            >"$OUT_DIR/throughput-cluster-$rep.json" \
            2>"$OUT_DIR/throughput-cluster-$rep.loadgen.log" || true
        stop_cluster
    done
    read -r standalone cluster ratio < <(python3 - "$OUT_DIR" "$REPEAT" <<'PY'
import json, os, sys
out, repeat = sys.argv[1], int(sys.argv[2])
def tput(name, rep):
    try:
        with open(os.path.join(out, f"throughput-{name}-{rep}.json")) as f:
            return json.load(f)["throughput_ok_per_s"]
    except (OSError, ValueError, KeyError):
        return None
def median(values):
    values = sorted(values)
    m = len(values) // 2
    return values[m] if len(values) % 2 else (values[m - 1] + values[m]) / 2
pairs = [(tput("standalone", r), tput("cluster", r)) for r in range(1, repeat + 1)]
pairs = [(s, c) for s, c in pairs if s and c is not None]
if not pairs:
    print("n/a n/a n/a")
else:
    print(f"{median([s for s, _ in pairs]):.0f} {median([c for _, c in pairs]):.0f} "
          f"{median([c / s for s, c in pairs]):.3f}")
PY
)
    row "register throughput, standalone" "$standalone req/s" "" ""
    row "register throughput, member 1 of 3" "$cluster req/s" "" ""
    if [ "$ratio" = n/a ]; then
        row "  ratio cluster / standalone" "n/a" ">= 0.75" "missed"
    else
        row "  ratio cluster / standalone" "$ratio" ">= 0.75" \
            "$(verdict "$(python3 -c "print(int($ratio >= 0.75))")")"
    fi
fi

# --- lag ----------------------------------------------------------------------------------
if wants lag; then
    note "lag: cluster-replication at $RATE/s on member 1, observed on member 2"
    start_cluster lag
    report="$OUT_DIR/lag.json"
    loadgen cluster-replication --server "127.0.0.1:${MEMBER_PORTS[1]}" \
        --peer-server "127.0.0.1:${MEMBER_PORTS[2]}" --rate "$RATE" --services "$LAG_SERVICES" \
        --connections "$CONNECTIONS" --duration "$LAG_DURATION" --warmup "$LAG_WARMUP" \
        --grace "$GRACE" --json --quiet >"$report" 2>"$OUT_DIR/lag.loadgen.log" || true
    stop_cluster
    samples="$(json "$report" 'r["lag_samples"]')"
    lag_ms() { json "$report" "None if r['replication_lag_us'] is None else '%.3f' % (r['replication_lag_us']['$1'] / 1000)"; }
    p50="$(lag_ms p50)"
    p99="$(lag_ms p99)"
    max="$(lag_ms max)"
    missing="$(json "$report" 'r["missing"]')"
    acked="$(json "$report" 'r["registrations_measured_ok"]')"
    tput="$(json "$report" '"%.0f" % r["throughput_ok_per_s"]')"
    row "registrations on member 1" "$tput/s ok ($acked measured)" "$RATE/s" \
        "$(verdict "$(python3 -c "print(int('$tput' != 'n/a' and float('$tput') >= 0.99 * $RATE))")")"
    row "replication lag 1 -> 2, p50 / max" "$p50 / $max ms" "" ""
    lag_ok="$(python3 -c "print(int('$p99' != 'n/a' and float('$p99') <= 50 and '$samples' not in ('n/a', '0')))")"
    row "replication lag 1 -> 2, p99" "$p99 ms ($samples samples)" "<= 50 ms" "$(verdict "$lag_ok")"
    row "  missing on member 2 (after ${GRACE} grace)" "$missing" "0" \
        "$(verdict "$(python3 -c "print(int('$missing' == '0'))")")"
fi

# --- restart ------------------------------------------------------------------------------
if wants restart; then
    if [ "$INSTANCES" -ge 1000 ]; then
        services=1000
        per_service=$(((INSTANCES + 999) / 1000))
    else
        services="$INSTANCES"
        per_service=1
    fi
    note "restart: registering $((services * per_service)) instances on member 1" \
        "($services services x $per_service, gRPC batches over $BATCH_CONNECTIONS connections)"
    start_cluster restart
    load="$OUT_DIR/restart-load.json"
    : >"$load"
    # Held for an hour at most; stopped below (or by the trap) once the restart is measured.
    taskset -c "$LOADGEN_CPU" "$LOADGEN_BIN" grpc-batch-register --cores 1 \
        --server "127.0.0.1:${MEMBER_PORTS[1]}" --services "$services" \
        --instances-per-service "$per_service" --connections "$BATCH_CONNECTIONS" \
        --duration 3600s --json --quiet >"$load" 2>"$OUT_DIR/restart-load.loadgen.log" &
    HOLD_PID=$!
    # The report line comes once every batch was answered, while the connections stay open.
    while [ "$(wc -l <"$load")" -lt 1 ] && kill -0 "$HOLD_PID" 2>/dev/null; do sleep 0.1; done
    kill -0 "$HOLD_PID" 2>/dev/null || die "the load generator exited; see $OUT_DIR/restart-load.loadgen.log"
    registered="$(json "$load" 'r["instances_ok"]')"
    load_s="$(json "$load" '"%.1f" % r["duration_s"]')"
    row "instances registered on member 1" "$registered in $load_s s" "$INSTANCES" \
        "$(verdict "$(python3 -c "print(int('$registered' != 'n/a' and int('$registered') >= $INSTANCES))")")"

    # Every member should hold them all before member 3 goes down.
    started_ms="$(now_ms)"
    deadline=$((SECONDS + REPLICATE_TIMEOUT_S))
    counts="$(counts_of)"
    while [ "$counts" != "$registered $registered $registered" ] && [ $SECONDS -lt $deadline ]; do
        sleep 0.2
        counts="$(counts_of)"
    done
    if [ "$counts" = "$registered $registered $registered" ]; then
        row "  on every member after" "$(( $(now_ms) - started_ms )) ms" "" ""
    else
        row "  on every member (members 1 2 3)" "not after ${REPLICATE_TIMEOUT_S} s: $counts" "equal" "missed"
    fi

    note "restart: kill -9 member 3, start it again on its data dir"
    kill -KILL "${MEMBER_PIDS[3]}"
    wait "${MEMBER_PIDS[3]}" 2>/dev/null || true
    start_ms="$(now_ms)"
    start_member 3 "$OUT_DIR/member-3-restart.log"
    if wait_ready "${MEMBER_PORTS[3]}" "${MEMBER_PIDS[3]}" "$OUT_DIR/member-3-restart.log"; then
        ready_ms=$(( $(now_ms) - start_ms ))
        counts="$(counts_of)"
        read -r c1 c2 c3 <<<"$counts"
        row "member 3 ready after restart" "$ready_ms ms" "<= 10000 ms" \
            "$(verdict "$([ "$ready_ms" -le 10000 ] && echo 1 || echo 0)")"
        if [ "$c3" = "$c1" ] && [ "$c3" = "$c2" ] && [ "$c3" != n/a ]; then
            row "  instances when ready (members 1 2 3)" "$counts" "equal" "ok"
        else
            row "  instances when ready (members 1 2 3)" "$counts" "equal" "missed"
            # How long it takes to catch up after all, for the record.
            deadline=$((SECONDS + REPLICATE_TIMEOUT_S))
            while [ $SECONDS -lt $deadline ]; do
                read -r c1 c2 c3 <<<"$(counts_of)"
                [ "$c3" = "$c1" ] && [ "$c3" = "$c2" ] && break
                sleep 0.2
            done
            if [ "$c3" = "$c1" ] && [ "$c3" = "$c2" ]; then
                row "  equal after start" "$(( $(now_ms) - start_ms )) ms" "" ""
            else
                row "  ${REPLICATE_TIMEOUT_S} s later (members 1 2 3)" "$c1 $c2 $c3" "" ""
            fi
        fi
    else
        row "member 3 ready after restart" "not within ${READY_TIMEOUT_S} s" "<= 10000 ms" "missed"
    fi
    stop_pid "$HOLD_PID"
    HOLD_PID=""
    stop_cluster
fi

echo
printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rows = [line.rstrip("\n").split("|") for line in sys.stdin if line.strip()]
header = ["measurement", "value", "target", "verdict"]
widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
for r in [header] + rows:
    print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
'
echo
echo "members: HTTP ${MEMBER_PORTS[1]} ${MEMBER_PORTS[2]} ${MEMBER_PORTS[3]} on CPUs ${MEMBER_CPUS[1]} ${MEMBER_CPUS[2]} ${MEMBER_CPUS[3]}; standalone $STANDALONE_PORT on CPU $SERVER_CPU; loadgen on CPU $LOADGEN_CPU"
echo "reports and logs: $OUT_DIR"
exit $((MISSED * 2))
