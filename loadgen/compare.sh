#!/usr/bin/env bash
# compare.sh: runs the same nacore-loadgen scenarios against nacore and another Nacos-compatible
# server (r-nacos by default), each server pinned to the same CPU and the load generator to
# another, and prints throughput and p99 side by side with their ratios (nacore / other).
#
# Every scenario gets a freshly started server with an empty data directory, so scenarios do not
# see each other's instances.
#
# Usage: loadgen/compare.sh [options]      (run from anywhere; paths are relative to the workspace)
#   --nacore PATH        nacore binary                      [$NACORE_BIN or target/release/nacore]
#   --other CMD          start command of the other server  [$OTHER_CMD or r-nacos, see below]
#                        {port} {grpc_port} {data} in CMD are replaced; PORT, GRPC_PORT and
#                        DATA_DIR are also exported to it. It must serve the Nacos HTTP API on
#                        {port} and keep running in the foreground.
#   --other-name NAME    label of the other server          [$OTHER_NAME or r-nacos]
#   --duration D         measured time per scenario         [$DURATION or 10s]
#   --warmup D           unrecorded warmup per scenario     [$WARMUP or 2s]
#   --connections N      loadgen connections                [$CONNECTIONS or 64]
#   --server-cpu N       CPU for the servers (taskset -c)   [$SERVER_CPU or 0]
#   --loadgen-cpu N      CPU for the load generator         [$LOADGEN_CPU or 1]
#   --out DIR            where the JSON reports and logs go [$OUT_DIR or a new temp dir]
#   --repeat N           runs per scenario and server, alternating servers; the table shows
#                        the best run (highest throughput, then lowest p99), which filters out
#                        runs disturbed by other load on a shared machine, and the median of
#                        the paired ratios (each repetition's nacore run against the other
#                        server's run right after it)                      [$REPEAT or 1]
# SCENARIOS (env): one scenario per line, loadgen arguments after the name; see DEFAULT_SCENARIOS.
#   A scenario line with its own --connections overrides --connections. gRPC scenarios use the
#   HTTP port + 1000 on both servers. For grpc-subscribe-push the req/s column is latency
#   samples per second (one per subscriber and change) and p99 is change-to-push latency; for
#   grpc-connections it is health checks, and the last column gives the server's RSS growth
#   per held connection. The config-center scenarios (config-*, grpc-config-get) publish their
#   configs at setup; for config-notify-grpc and config-notify-longpoll req/s is latency samples
#   per second (one per listener and publish) and p99 is publish-ack-to-notification latency
#   (the JSON reports also give it from the publish's send); for config-hold the last column
#   gives the server's RSS growth per held long poll, and for config-memory the server's RSS
#   growth over the bytes of the configs it stored (req/s there is the setup's publishes). Before a config scenario the script
#   checks that a probe config publishes and reads back, and restarts a server that acknowledges
#   publishes without storing them (r-nacos 0.8.8 does after an intermittent panic of its Raft
#   apply actor at startup).
# LOADGEN_BIN (env): the nacore-loadgen binary; default: built with cargo --release.
#
# The default other server is r-nacos (`cargo install rnacos`), found as `rnacos` in PATH and
# configured through its environment: RNACOS_HTTP_PORT, RNACOS_GRPC_PORT,
# RNACOS_HTTP_CONSOLE_PORT, RNACOS_DATA_DIR (and the older RNACOS_CONFIG_DB_DIR),
# RNACOS_RAFT_NODE_ADDR, RNACOS_HTTP_WORKERS=1 (one worker, like nacore --cores 1) and
# RUST_LOG=warn (no per-request access log, like nacore --log-level warn). If it is missing
# or does not start, the script says so, reports nacore alone and exits with status 3.

set -euo pipefail

WORKSPACE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NACORE_BIN="${NACORE_BIN:-$WORKSPACE/target/release/nacore}"
OTHER_CMD="${OTHER_CMD:-}"
OTHER_NAME="${OTHER_NAME:-r-nacos}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"
OUT_DIR="${OUT_DIR:-}"
REPEAT="${REPEAT:-1}"
NACORE_PORT="${NACORE_PORT:-18848}"
OTHER_PORT="${OTHER_PORT:-28848}"
# Seconds a server may take to answer /nacos/v1/ns/operator/metrics (Java Nacos is slow).
READY_TIMEOUT_S="${READY_TIMEOUT_S:-90}"

DEFAULT_SCENARIOS="http-query --services 100 --instances-per-service 10
http-query --services 1000 --instances-per-service 10 --keys zipf
http-register --services 1000 --instances-per-service 10
http-beat --beat-mode max --services 1000 --instances-per-service 10
http-beat --beat-mode steady --services 1000 --instances-per-service 100
http-mixed --services 1000 --instances-per-service 10 --read-ratio 0.9
grpc-register --services 1000
grpc-query --services 1000 --instances-per-service 10
grpc-subscribe-push --subscribers 1000 --services 1 --rate 10
grpc-connections --connections 5000
config-get --configs 1000
grpc-config-get --configs 1000
config-publish --publish-keys distinct
config-publish --publish-keys same
config-notify-grpc --listeners 1000 --rate 10
config-notify-longpoll --listeners 1000 --rate 10
config-hold --listeners 10000
config-memory --configs 100000 --content-bytes 1024"
SCENARIOS="${SCENARIOS:-$DEFAULT_SCENARIOS}"

die() { echo "compare.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --nacore) NACORE_BIN="$2"; shift 2 ;;
        --other) OTHER_CMD="$2"; shift 2 ;;
        --other-name) OTHER_NAME="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --server-cpu) SERVER_CPU="$2"; shift 2 ;;
        --loadgen-cpu) LOADGEN_CPU="$2"; shift 2 ;;
        --out) OUT_DIR="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

command -v taskset >/dev/null || die "taskset not found (util-linux)"
command -v python3 >/dev/null || die "python3 not found (used to read the JSON reports)"
command -v curl >/dev/null || die "curl not found (used to wait for the servers)"
[ -x "$NACORE_BIN" ] || die "nacore binary $NACORE_BIN not found; cargo build --release -p nacore"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/nacore-compare.XXXXXX)}"
mkdir -p "$OUT_DIR"

if [ -z "${LOADGEN_BIN:-}" ]; then
    (cd "$WORKSPACE" && cargo build --release -q -p nacore-loadgen) || die "cannot build nacore-loadgen"
    LOADGEN_BIN="${CARGO_TARGET_DIR:-$WORKSPACE/target}/release/nacore-loadgen"
fi
[ -x "$LOADGEN_BIN" ] || die "loadgen binary $LOADGEN_BIN not found"

OTHER_MISSING=""
if [ -z "$OTHER_CMD" ]; then
    if command -v rnacos >/dev/null; then
        OTHER_CMD="env RNACOS_HTTP_PORT={port} RNACOS_GRPC_PORT={grpc_port} \
RNACOS_HTTP_CONSOLE_PORT=$((OTHER_PORT + 2000)) RNACOS_DATA_DIR={data}/db \
RNACOS_CONFIG_DB_DIR={data}/db RNACOS_RAFT_NODE_ADDR=127.0.0.1:$((OTHER_PORT + 1000)) \
RNACOS_HTTP_WORKERS=1 RUST_LOG=warn rnacos"
    else
        OTHER_MISSING="rnacos not found in PATH (install it with: cargo install rnacos), or pass --other"
    fi
fi

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap stop_server EXIT

# start_server NAME PORT LOG: starts the named server pinned to SERVER_CPU with an empty data dir,
# waits until it answers the metrics endpoint. Returns 1 if it does not come up.
start_server() {
    local name="$1" port="$2" log="$3" data="$OUT_DIR/data-$1"
    rm -rf "$data" && mkdir -p "$data"
    if [ "$name" = nacore ]; then
        taskset -c "$SERVER_CPU" "$NACORE_BIN" --cores 1 --http-port "$port" \
            --grpc-port $((port + 1000)) --data-dir "$data" --bind 127.0.0.1 \
            --log-level warn >"$log" 2>&1 &
    else
        local cmd="${OTHER_CMD//\{port\}/$port}"
        cmd="${cmd//\{grpc_port\}/$((port + 1000))}"
        cmd="${cmd//\{data\}/$data}"
        (cd "$data" && PORT="$port" GRPC_PORT=$((port + 1000)) DATA_DIR="$data" \
            exec taskset -c "$SERVER_CPU" bash -c "exec $cmd") >"$log" 2>&1 &
    fi
    SERVER_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    while [ $SECONDS -lt $deadline ]; do
        if curl -fsS -m 1 "http://127.0.0.1:$port/nacos/v1/ns/operator/metrics" 2>/dev/null \
            | grep -q '"status":"UP"'; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    echo "compare.sh: $name did not answer /nacos/v1/ns/operator/metrics on port $port;" \
        "see $log" >&2
    stop_server
    return 1
}

# config_works PORT: whether a probe config published on PORT reads back within 2 s.
config_works() {
    local port="$1" url="http://127.0.0.1:$1/nacos/v1/cs/configs"
    curl -fsS -m 2 -X POST "$url" -d 'dataId=lg-probe&group=DEFAULT_GROUP&content=probe' \
        2>/dev/null | grep -q true || return 1
    for _ in $(seq 1 10); do
        curl -fsS -m 1 "$url?dataId=lg-probe&group=DEFAULT_GROUP" 2>/dev/null | grep -q probe \
            && return 0
        sleep 0.2
    done
    return 1
}

# start_ready NAME PORT LOG SPEC: start_server, and for a config scenario up to 3 starts until a
# probe config reads back.
start_ready() {
    local name="$1" port="$2" log="$3" spec="$4"
    case "$spec" in config-*|grpc-config-*) ;; *) start_server "$name" "$port" "$log"; return ;; esac
    for attempt in 1 2 3; do
        start_server "$name" "$port" "$log" || return 1
        config_works "$port" && return 0
        echo "compare.sh: $name acknowledged a config publish it did not store" \
            "(start $attempt of 3); restarting" >&2
        cp "$log" "$log.bad-start-$attempt" 2>/dev/null || true
        stop_server
    done
    return 1
}

# run_one NAME PORT RUN SPEC: one scenario against one freshly started server; RUN names the
# report files (<scenario index>-<repetition>).
run_one() {
    local name="$1" port="$2" index="$3" spec="$4" report="$OUT_DIR/$1-$3.json"
    start_ready "$name" "$port" "$OUT_DIR/$name-$index.log" "$spec" || return 1
    local connections=(--connections "$CONNECTIONS")
    case " $spec " in *" --connections "*) connections=() ;; esac
    # shellcheck disable=SC2086 # SPEC is a word list of loadgen arguments.
    if ! taskset -c "$LOADGEN_CPU" "$LOADGEN_BIN" $spec --server "127.0.0.1:$port" --cores 1 \
        "${connections[@]}" --duration "$DURATION" --warmup "$WARMUP" --json --quiet \
        >"$report" 2>"$OUT_DIR/$name-$index.loadgen.log"; then
        echo "compare.sh: loadgen reported no success against $name for: $spec" >&2
    fi
    stop_server
}

index=0
while IFS= read -r spec; do
    [ -n "$spec" ] || continue
    index=$((index + 1))
    for rep in $(seq 1 "$REPEAT"); do
        echo "[$index.$rep] $spec" >&2
        run_one nacore "$NACORE_PORT" "$index-$rep" "$spec" || true
        if [ -z "$OTHER_MISSING" ]; then
            if ! run_one other "$OTHER_PORT" "$index-$rep" "$spec"; then
                OTHER_MISSING="$OTHER_NAME did not start (command: $OTHER_CMD); see $OUT_DIR/other-$index-$rep.log"
            fi
        fi
    done
done <<<"$SCENARIOS"

python3 - "$OUT_DIR" "$OTHER_NAME" "$SCENARIOS" "$REPEAT" <<'PY'
import json, os, sys

out_dir, other_name, scenarios, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
specs = [line for line in scenarios.splitlines() if line.strip()]

def load_one(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def load(name, index):
    """The best of the repetitions: highest throughput, then lowest p99."""
    runs = [load_one(os.path.join(out_dir, f"{name}-{index}-{rep}.json"))
            for rep in range(1, repeat + 1)]
    runs = [run for run in runs if run is not None]
    if not runs:
        return None
    return max(runs, key=lambda r: (round(r["throughput_ok_per_s"]), -r["latency_us"]["p99"]))

def paired_ratio(index):
    """Median over repetitions of nacore's throughput over the other server's in the same
    repetition (the two runs are back to back): steadier than the ratio of the best runs on a
    machine whose speed drifts."""
    ratios = []
    for rep in range(1, repeat + 1):
        mine = load_one(os.path.join(out_dir, f"nacore-{index}-{rep}.json"))
        theirs = load_one(os.path.join(out_dir, f"other-{index}-{rep}.json"))
        if mine and theirs and theirs["throughput_ok_per_s"] > 0:
            ratios.append(mine["throughput_ok_per_s"] / theirs["throughput_ok_per_s"])
    if not ratios:
        return "n/a"
    ratios.sort()
    middle = len(ratios) // 2
    median = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
    return f"{median:.2f}"

def fmt(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"

def ratio(a, b):
    return "n/a" if a is None or b in (None, 0) else f"{a / b:.2f}"

def figures(report):
    if report is None:
        return None, None, None, None
    # Scenario-specific figure: RSS growth per held connection or long poll (KiB), pushes
    # (config notifications) received.
    if report.get("server_rss_bytes_per_connection") is not None:
        extra = f'{report["server_rss_bytes_per_connection"] / 1024:.1f} KiB/conn'
    elif report.get("server_rss_bytes_per_poll") is not None:
        extra = f'{report["server_rss_bytes_per_poll"] / 1024:.1f} KiB/poll'
    elif report.get("server_rss_per_content_byte") is not None:
        extra = (f'{report["server_rss_per_content_byte"]:.2f}x content'
                 f' ({report["server_rss_anon_per_content_byte"]:.2f}x anon)')
    elif "pushes_received" in report:
        extra = f'{report["pushes_received"]} pushes'
    else:
        extra = None
    return (report["throughput_ok_per_s"], report["latency_us"]["p99"] / 1000.0,
            report["errors_total"], extra)

header = ["scenario", "nacore req/s", f"{other_name} req/s", "ratio", "paired",
          "nacore p99 ms", f"{other_name} p99 ms", "ratio", "errors n/o", "extra n/o"]
rows = []
for index, spec in enumerate(specs, start=1):
    nt, np99, ne, nx = figures(load("nacore", index))
    ot, op99, oe, ox = figures(load("other", index))
    extra = "" if nx is None and ox is None else f"{nx or 'n/a'} / {ox or 'n/a'}"
    rows.append([spec, fmt(nt), fmt(ot), ratio(nt, ot), paired_ratio(index),
                 fmt(np99, 3), fmt(op99, 3),
                 ratio(np99, op99), f"{fmt(ne)}/{fmt(oe)}", extra])
widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
for row in [header] + rows:
    print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))
print(f"\nratio = nacore / {other_name} (throughput: higher is better; p99: lower is better);"
      f" best of {repeat} run(s) per cell; paired = median of the per-repetition throughput"
      f" ratios (each nacore run against the {other_name} run right after it)")
print(f"reports and logs: {out_dir}")
PY

if [ -n "$OTHER_MISSING" ]; then
    echo "compare.sh: $OTHER_MISSING" >&2
    exit 3
fi
