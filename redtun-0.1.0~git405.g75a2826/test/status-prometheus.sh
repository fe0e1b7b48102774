#!/bin/bash
# /metrics scraped by a real Prometheus (issue 14): a Prometheus server on
# loopback scrapes redtun every second; after N good connections and M to
# an impostor (a certificate from the same CA for another name), its HTTP
# API must give the exact counts: redtun_connections_total, a rate and an increase of
# redtun_bytes_total, redtun_handshake_failures_total{reason="hostname"}.
# promtool must accept the exposition.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli python3 ss openssl timeout prometheus promtool
need_redtun
gen_certs

N=5
M=3
UP=$(free_port)
IMP=$(free_port)
LG=$(free_port)
LI=$(free_port)
SP=$(free_port)
PP=$(free_port)
C="python3 $top_srcdir/test/status_http_client.py $SP"

step "redis, an impostor, redtun with the status endpoint"
start_tls_redis good "$UP"
start_tls_redis impostor "$IMP" --tls-cert-file "$T/wronghost.crt" \
	--tls-key-file "$T/wronghost.key"
{
	conf_globals
	echo "status = \"127.0.0.1:$SP\";"
	echo 'services = {'
	conf_service good "$LG" "$UP"
	conf_service impostor "$LI" "$IMP"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_port "$SP"

step "promtool check metrics"
$C get /metrics | sed '1,/^$/d' >"$T/exposition.txt"
grep -q '^redtun_build_info{' "$T/exposition.txt" || fail "no exposition: $(head -c 300 "$T/exposition.txt")"
promtool check metrics <"$T/exposition.txt" >"$T/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || say "promtool warnings: $(cat "$T/promtool.out")"

step "Prometheus on 127.0.0.1:$PP scraping every second"
cat >"$T/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: redtun
    static_configs:
      - targets: ['127.0.0.1:$SP']
EOF2
spawn "$T/prometheus.log" prometheus --config.file="$T/prometheus.yml" \
	--storage.tsdb.path="$T/prom" --web.listen-address="127.0.0.1:$PP"
track_pid "$LAST_PID"

# promq QUERY: the value of the query's first sample, or "none".
promq() {
	python3 - "$PP" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (
    sys.argv[1], urllib.parse.quote(sys.argv[2]))
try:
    r = json.load(urllib.request.urlopen(url, timeout=3))
    res = r["data"]["result"]
    print(res[0]["value"][1] if res else "none")
except Exception as e:
    print("none")
PY
}
# wait_value QUERY VALUE [SECS=15]: poll until the query gives VALUE.
wait_value() {
	local i v=none
	for ((i = 0; i < ${3:-15} * 4; i++)); do
		v=$(promq "$1")
		[ "$v" = "$2" ] && { say "$1 = $v"; return 0; }
		sleep 0.25
	done
	fail "Prometheus: $1 = $v, want $2"
}
wait_value 'up{job="redtun"}' 1 20

step "traffic: $N good connections, $M to the impostor"
for ((i = 0; i < N; i++)); do
	assert_eq "PONG" "$(rcli "$LG" ping)" "good PING $i"
done
for ((i = 0; i < M; i++)); do
	out=$(rcli "$LI" ping 2>&1) || true
	assert_not_contains "$out" "PONG" "impostor PING $i"
done

step "Prometheus has the exact counts"
wait_value 'redtun_connections_total{service="good"}' "$N"
wait_value 'redtun_connections_total{service="impostor"}' "$M"
wait_value 'redtun_handshake_failures_total{service="impostor",reason="hostname"}' "$M"
wait_value 'redtun_handshake_failures_total{service="good",reason="hostname"}' 0
wait_value 'sum(redtun_handshakes_total{service="good",result="ok"})' "$N"
wait_value 'redtun_bytes_total{service="good",direction="to_server"}' "$((N * 14))"
wait_value 'redtun_bytes_total{service="good",direction="to_client"}' "$((N * 7))"
wait_value 'increase(redtun_bytes_total{service="good",direction="to_client"}[1m]) > bool 0' 1
wait_value 'rate(redtun_bytes_total{service="good",direction="to_server"}[1m]) > bool 0' 1
wait_value 'redtun_upstream_connect_seconds_count{service="good"}' "$N"
wait_value 'redtun_target_up{service="good",target="localhost:'"$UP"'"}' 1
assert_redtun_alive
