#!/usr/bin/env bash
# dns-bench.sh: queries per second of nacore's DNS server on one core beside dnsmasq serving
# the same records from a hosts file, both measured with dnsperf (Debian packages, installed
# by scripts/setup-dns.sh --bench). Each server is pinned to SERVER_CPU, dnsperf to
# LOADGEN_CPU; repetitions alternate the order, and the result is the median of the paired
# ratios (nacore / dnsmasq of the same repetition).
#
# Usage: loadgen/dns-bench.sh            (from anywhere; paths are relative to the workspace)
# Env: NACORE_BIN [target/release/nacore], REPEAT [5], DURATION_S [10], SERVICES [100],
#      CLIENTS [4] (dnsperf -c), OUTSTANDING [100] (dnsperf -q), SERVER_CPU [0], LOADGEN_CPU [1]
set -euo pipefail
cd "$(dirname "$0")/.."
NACORE_BIN="${NACORE_BIN:-target/release/nacore}"
REPEAT="${REPEAT:-5}"
DURATION_S="${DURATION_S:-10}"
SERVICES="${SERVICES:-100}"
CLIENTS="${CLIENTS:-4}"
OUTSTANDING="${OUTSTANDING:-100}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"

bash scripts/setup-dns.sh --bench
[[ -x "$NACORE_BIN" ]] || { echo "dns-bench.sh: no nacore binary at $NACORE_BIN (cargo build --release)" >&2; exit 1; }
DNSMASQ="$(command -v dnsmasq || echo /usr/sbin/dnsmasq)"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

HTTP_PORT="$(free_port)"
NACORE_DNS_PORT="$(free_port)"
DNSMASQ_PORT="$(free_port)"

taskset -c "$SERVER_CPU" "$NACORE_BIN" --cores 1 --bind 127.0.0.1 --http-port "$HTTP_PORT" \
    --grpc-port "$(free_port)" --cluster-port "$(free_port)" --data-dir "$WORK/data" \
    --log-level warn --dns-port "$NACORE_DNS_PORT" >"$WORK/nacore.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$HTTP_PORT/nacos/v1/console/health/readiness" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/nacos/v1/console/health/readiness" >/dev/null ||
    { echo "nacore did not start:"; cat "$WORK/nacore.log"; exit 1; }

# The same records on both: SERVICES names, one IPv4 address each (ephemeral instances,
# kept alive by the beat loop below).
: >"$WORK/hosts"
: >"$WORK/queries"
for i in $(seq 1 "$SERVICES"); do
    ip="10.77.$((i / 256)).$((i % 256))"
    curl -fsS -X POST "http://127.0.0.1:$HTTP_PORT/nacos/v1/ns/instance?serviceName=svc$i&ip=$ip&port=80" >/dev/null
    echo "$ip svc$i.nacos.local" >>"$WORK/hosts"
    echo "svc$i.nacos.local A" >>"$WORK/queries"
done
# Keep the ephemeral instances alive through the runs with a beat every 5 s.
(
    while true; do
        for i in $(seq 1 "$SERVICES"); do
            ip="10.77.$((i / 256)).$((i % 256))"
            curl -fsS -X PUT "http://127.0.0.1:$HTTP_PORT/nacos/v1/ns/instance/beat?serviceName=svc$i&ip=$ip&port=80" >/dev/null 2>&1 || true
        done
        sleep 5
    done
) &
PIDS+=($!)

taskset -c "$SERVER_CPU" "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --user=root \
    --port="$DNSMASQ_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --addn-hosts="$WORK/hosts" --local-ttl=1 --cache-size=10000 >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 0.5

check() {
    local got
    got="$(dig +short -p "$1" @127.0.0.1 svc1.nacos.local A)"
    [[ "$got" == "10.77.0.1" ]] || { echo "dns-bench.sh: $2 answered '$got' for svc1"; exit 1; }
}
check "$NACORE_DNS_PORT" nacore
check "$DNSMASQ_PORT" dnsmasq

qps() {
    taskset -c "$LOADGEN_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$WORK/queries" -l "$DURATION_S" \
        -c "$CLIENTS" -q "$OUTSTANDING" 2>&1 | tee -a "$WORK/dnsperf.log" |
        awk '/Queries per second/ {print $4}'
}

RATIOS=()
echo "rep nacore_qps dnsmasq_qps ratio"
for rep in $(seq 1 "$REPEAT"); do
    if (( rep % 2 )); then
        n="$(qps "$NACORE_DNS_PORT")"; d="$(qps "$DNSMASQ_PORT")"
    else
        d="$(qps "$DNSMASQ_PORT")"; n="$(qps "$NACORE_DNS_PORT")"
    fi
    r="$(python3 -c "print(f'{$n / $d:.3f}')")"
    RATIOS+=("$r")
    echo "$rep $n $d $r"
done
MEDIAN="$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"
echo "median paired ratio nacore/dnsmasq: $MEDIAN"
grep -h "Queries lost" "$WORK/dnsperf.log" | sort | uniq -c || true
