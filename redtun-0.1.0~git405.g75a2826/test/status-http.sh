#!/bin/bash
# The status endpoint under hostile HTTP (issue 14): slowloris, a 1 MB
# header, garbage, pipelined requests, path traversal, other methods, more
# clients than STATUS_MAX_CLIENTS, HEAD.  Meanwhile and afterwards the
# tunnel beside it serves PING at once, and redtun logs nothing about it.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

need_cmd redis-server redis-cli python3 ss openssl timeout
need_redtun
gen_certs

UP=$(free_port)
LP=$(free_port)
SP=$(free_port)
C="python3 $top_srcdir/test/status_http_client.py $SP"
LOG=$T/redtun.log

start_tls_redis up "$UP"
{
	conf_globals
	echo "status = \"127.0.0.1:$SP\";"
	echo 'services = {'
	conf_service redis "$LP" "$UP"
	echo '};'
} >"$T/redtun.conf"
start_redtun "$T/redtun.conf"
wait_for_port "$SP"

# ping_fast WHAT: a PING through the tunnel answers within 2 s.
ping_fast() {
	local t0 ms out
	t0=$(date +%s%N)
	out=$(timeout 2 redis-cli -h 127.0.0.1 -p "$LP" ping 2>&1) || true
	ms=$((($(date +%s%N) - t0) / 1000000))
	assert_eq "PONG" "$out" "PING through the tunnel $1"
	[ "$ms" -lt 1000 ] || fail "PING took ${ms} ms $1"
}

step "plain GET, HEAD: status line, headers, body"
out=$($C get /healthz)
assert_contains "$out" "HTTP/1.1 200 OK" "GET /healthz"
assert_contains "$out" "Connection: close" "one request per connection"
assert_contains "$out" "ok" "/healthz body"
out=$($C get /metrics)
assert_contains "$out" "Content-Type: text/plain; version=0.0.4; charset=utf-8"
assert_contains "$out" 'redtun_service_listening{service="redis"} 1' "/metrics body"
out=$($C get /metrics HEAD)
assert_contains "$out" "HTTP/1.1 200 OK" "HEAD /metrics"
len=$(printf '%s\n' "$out" | sed -n 's/^Content-Length: //p')
[ "${len:-0}" -gt 1000 ] || fail "HEAD: Content-Length $len, want the GET body's"
assert_not_contains "$out" "redtun_" "HEAD sends no body"
out=$($C get '/status?pretty=1')
assert_contains "$out" "Content-Type: application/json" "/status with a query"

step "slowloris: a head trickled in is cut at 5 s; the tunnel stays fast"
$C slowloris >"$T/slow.out" 2>&1 &
slow=$!
track_pid "$slow"
sleep 1
ping_fast "during slowloris"
wait "$slow" || fail "slowloris client failed: $(cat "$T/slow.out")"
read -r code secs <"$T/slow.out"
say "slowloris: $code after $secs s"
assert_eq "408" "$code" "slowloris answer"
python3 -c "import sys; sys.exit(not 4.5 <= float('$secs') <= 7.0)" ||
	fail "slowloris cut after $secs s, want about 5"

step "a 1 MB header: 431, then closed"
assert_eq "431" "$($C bighead 1048576)" "1 MB header"
assert_redtun_alive "the 1 MB header"

step "garbage bytes: 400"
assert_eq "400" "$($C raw 16030100a5010000a10303deadbeef0d0a0d0a)" "TLS hello"
assert_eq "400" "$($C raw 00ff00ff0d0a0d0a)" "binary garbage"
assert_eq "400" "$($C raw "$(printf 'GET /metrics HTTP/9.9\r\n\r\n' | od -An -tx1 | tr -d ' \n')")" \
	"HTTP/9.9"

step "pipelined requests: the first answered, then closed"
assert_eq "1 200" "$($C pipelined)" "pipelined: one answer"

step "path traversal and near misses: 404"
paths="/metrics/ //metrics /../metrics /./metrics /%6detrics /METRICS
	/metrics%00 /status/.. http://127.0.0.1/metrics /healthz/ /"
# shellcheck disable=SC2086 # one path a word
out=$($C codes GET $paths)
for p in $paths; do
	assert_contains "$out" "$p 404" "GET $p"
done

step "methods: POST, PUT, DELETE, OPTIONS get 405 with Allow"
for m in POST PUT DELETE OPTIONS; do
	assert_eq "/metrics 405 Allow: GET, HEAD" "$($C codes "$m" /metrics)" "$m"
done

step "20 idle connections: the 4 beyond 16 are closed at once"
$C flood 20 >"$T/flood.out" &
flood=$!
track_pid "$flood"
sleep 0.2
ping_fast "with every status slot taken"
wait "$flood"
assert_eq "4" "$(cat "$T/flood.out")" "connections closed beyond STATUS_MAX_CLIENTS"
# The slots come back once the idle ones went.
wait_until 3 sh -c "$C get /healthz | grep -q '200 OK'" ||
	fail "no scrape after the idle connections left"

step "the tunnel and the daemon are unharmed"
ping_fast "at the end"
assert_eq "PONG" "$(rcli "$LP" ping)" "redis-cli through the tunnel"
assert_redtun_alive
assert_file_no_match "$LOG" "\[redis\].*(error|failed|refused)" "tunnel errors in the log"
assert_file_no_match "$LOG" " (err|crit|alert|emerg) " "error lines in the log"
# The refused requests are logged at debug, escaped, with the peer.
assert_file_match "$LOG" "status endpoint: 404 Not Found for 127\.0\.0\.1:" "404 at debug"
assert_file_match "$LOG" "status endpoint: 400 Bad Request for 127\.0\.0\.1:[0-9]+: HPE_" "400 at debug"
