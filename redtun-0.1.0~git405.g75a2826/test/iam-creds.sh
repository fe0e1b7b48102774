#!/bin/bash
# The AWS credential provider chain (src/aws_creds.c, aws_fetch.c,
# aws_http.c) through test/creds_probe, against test/fake_aws.py (a fake
# IMDSv2 and container endpoint on loopback): the order of precedence, the
# profile, partial configurations, the container's token, IMDSv2 only
# (the PUT first, the token on every GET), slow, malformed, refused and
# disabled endpoints.  Every case runs in a clean environment (env -i,
# HOME in $T).  Prints the matrix; no secret may appear in any output.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/test/lib.sh"

PROBE=$top_builddir/test/creds_probe
[ -x "$PROBE" ] || hard_error "no $PROBE (make check builds it)"
need_cmd python3
need_cmd curl

mkdir -p "$T/home/.aws"
AUTH="Bearer fake-container-auth-0123456789"
PORT=$(free_port)
DOWN=$(free_port)	# nothing listens there
FAKELOG=$T/fake.log
MODE=$T/mode
spawn "$T/fake.out" python3 "$top_srcdir/test/fake_aws.py" "$PORT" \
	"$FAKELOG" "$MODE" "$AUTH"
wait_for_port "$PORT"
EP=http://127.0.0.1:$PORT

# The secrets of this test: none may be printed, anywhere.
ENV_SECRET=env-secret-wJalrXUtnFEMI
FILE_SECRET="file-secret-bPxRfiCYEXAMPLE"
OTHER_SECRET=other-secret-K7MDENG
SESSION=env-session-token-FwoGZXIvYXdzE
cat >"$T/home/.aws/credentials" <<EOF
# the default file
[default]
aws_access_key_id = AKIAFILEDEFAULT
aws_secret_access_key = $FILE_SECRET

[other]
aws_access_key_id = AKIAFILEOTHER
aws_secret_access_key = $OTHER_SECRET
aws_session_token = file-session-token-XYZ
EOF
printf '[default]\n# no secret\naws_access_key_id = AKIAPARTIAL\n' \
	>"$T/partial"
printf '%s' "$AUTH" >"$T/authfile"
printf '%s\n' "$AUTH" >"$T/authfile-nl"
printf 'Bearer wrong' >"$T/authfile-bad"

MATRIX=$T/matrix
ALL=$T/all-output
: >"$MATRIX"
: >"$ALL"
CASES=0
# probe NAME EXPECTED-ERE [VAR=VALUE...]: creds_probe in a clean
# environment (timeout $TMO ms), its output in $OUT, a matrix row.
TMO=2000
OUT=
WRAP=()
probe() {
	local name=$1 want=$2 got rc=0
	shift 2
	OUT=$(${WRAP[@]+"${WRAP[@]}"} env -i PATH="$PATH" HOME="$T/home" "$@" "$PROBE" "$TMO" 2>&1) ||
		rc=$?
	printf '%s\n' "$OUT" >>"$ALL"
	got=$(printf '%s\n' "$OUT" | grep -E '^(source|error)=' | head -n 1)
	CASES=$((CASES + 1))
	printf '%-34s %-44.44s %s\n' "$name" "$want" "${got:0:110}" >>"$MATRIX"
	if ! printf '%s\n' "$OUT" | grep -Eq -- "$want"; then
		cat "$MATRIX"
		printf '%s\n' "$OUT" | sed 's/^/    | /'
		fail "$name: expected /$want/ (exit $rc)"
	fi
	case $want in
	source=*) [ "$rc" = 0 ] || fail "$name: exit $rc, not 0" ;;
	*) [ "$rc" = 1 ] || fail "$name: exit $rc, not 1" ;;
	esac
}
# The fake's log lines written since mark.
mark() { MARK=$(wc -l <"$FAKELOG"); }
since() { tail -n +"$((MARK + 1))" "$FAKELOG"; }
setmode() { printf '%s' "$1" >"$MODE"; }

IMDS=("AWS_EC2_METADATA_SERVICE_ENDPOINT=$EP/")
CONT=("AWS_CONTAINER_CREDENTIALS_FULL_URI=$EP/container/creds"
	AWS_CONTAINER_AUTHORIZATION_TOKEN="$AUTH")
ENVC=(AWS_ACCESS_KEY_ID=AKIAENVEXAMPLE "AWS_SECRET_ACCESS_KEY=$ENV_SECRET"
	"AWS_SESSION_TOKEN=$SESSION")
NOHOME=("HOME=$T/nohome")		# no ~/.aws/credentials there

step "precedence: environment > shared file > container > IMDSv2"
setmode normal
probe "env beats everything" 'source=environment' "${ENVC[@]}" \
	"${CONT[@]}" "${IMDS[@]}"
printf '%s\n' "$OUT" | grep -qx 'token=set' || fail "env: no session token"
printf '%s\n' "$OUT" | grep -qx 'akid=AKIAENVEXAMPLE' || fail "env: akid"
want=$(printf '%s' "$ENV_SECRET" | sha256sum | cut -d' ' -f1)
printf '%s\n' "$OUT" | grep -qx "secret_sha256=$want" ||
	fail "env: the secret read is not the one given"
probe "file beats container and IMDS" \
	'source=shared file .*/home/\.aws/credentials \[default\]' \
	"${CONT[@]}" "${IMDS[@]}"
printf '%s\n' "$OUT" | grep -qx 'akid=AKIAFILEDEFAULT' || fail "file: akid"
mark
probe "container beats IMDS" 'source=container http://127\.0\.0\.1' \
	"${NOHOME[@]}" "${CONT[@]}" "${IMDS[@]}"
printf '%s\n' "$OUT" | grep -q '^akid=ASIACONT' || fail "container: akid"
since | grep -q '^GET /container/creds .*auth=yes' ||
	fail "container: the Authorization header was not sent"
since | grep -q '/latest/' && fail "container: IMDS was contacted too"
mark
probe "IMDSv2 alone" 'source=IMDSv2 role test-role' "${NOHOME[@]}" \
	"${IMDS[@]}"
printf '%s\n' "$OUT" | grep -q '^akid=ASIAFAKE' || fail "IMDS: akid"
printf '%s\n' "$OUT" | grep -qx 'token=set' || fail "IMDS: no session token"
exp=$(printf '%s\n' "$OUT" | sed -n 's/^expiration=//p')
now=$(date +%s)
{ [ "$exp" -gt $((now + 3000)) ] && [ "$exp" -lt $((now + 3700)) ]; } ||
	fail "IMDS: expiration $exp is not about now + 3600"

step "IMDSv2 only: a token first, on every GET; v1-style GETs refused"
since >"$T/imds-flow"
sed 's/^/    | /' "$T/imds-flow"
head -n 1 "$T/imds-flow" | grep -q '^PUT /latest/api/token token=no ttl=yes' ||
	fail "the first request was not the token PUT with its TTL"
[ "$(grep -c '^GET ' "$T/imds-flow")" = 2 ] || fail "expected 2 GETs"
grep '^GET ' "$T/imds-flow" | grep -vq 'token=yes' &&
	fail "a GET went without the session token (IMDSv1 style)"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"$EP/latest/meta-data/iam/security-credentials/")
[ "$code" = 401 ] || fail "the fake answered a v1-style GET with $code"
say "a v1-style GET to the fake: HTTP $code (the client never sends one)"

step "profiles and partial configurations"
probe "AWS_PROFILE selects" 'source=shared file .* \[other\]' \
	AWS_PROFILE=other "${IMDS[@]}"
printf '%s\n' "$OUT" | grep -qx 'akid=AKIAFILEOTHER' || fail "profile: akid"
printf '%s\n' "$OUT" | grep -qx 'token=set' || fail "profile: no token"
probe "missing explicit profile" \
	'error=.*/home/\.aws/credentials: no profile \[nope\] \(AWS_PROFILE\)' \
	AWS_PROFILE=nope "${IMDS[@]}"
probe "missing explicit file" \
	'error=.*/none: no such file \(AWS_SHARED_CREDENTIALS_FILE\)' \
	AWS_SHARED_CREDENTIALS_FILE="$T/none" "${IMDS[@]}"
probe "key id without secret (file)" \
	'error=.*/partial:3: profile default has aws_access_key_id but no aws_secret_access_key' \
	AWS_SHARED_CREDENTIALS_FILE="$T/partial" "${IMDS[@]}"
probe "key id without secret (env)" \
	'error=AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not' \
	AWS_ACCESS_KEY_ID=AKIAENVEXAMPLE "${IMDS[@]}"
probe "secret without key id (env)" \
	'error=AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not' \
	AWS_SECRET_ACCESS_KEY="$ENV_SECRET" "${IMDS[@]}"

step "container: token file or variable, FULL_URI or RELATIVE_URI"
C=("AWS_CONTAINER_CREDENTIALS_FULL_URI=$EP/container/creds")
probe "token file wins over the variable" 'source=container' \
	"${NOHOME[@]}" "${C[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/authfile" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer wrong"
probe "wrong token in the file" 'error=container credentials .*: HTTP 401' \
	"${NOHOME[@]}" "${C[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/authfile-bad" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN="$AUTH"
probe "token file with a newline" 'error=.*not a legal header value' \
	"${NOHOME[@]}" "${C[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/authfile-nl"
probe "token file missing" 'error=AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE .*No such file' \
	"${NOHOME[@]}" "${C[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/nofile"
probe "no token: the endpoint says 401" 'error=container credentials .*HTTP 401' \
	"${NOHOME[@]}" "${C[@]}"
probe "FULL_URI https" 'error=.*FULL_URI: https:// is not supported' \
	"${NOHOME[@]}" "AWS_CONTAINER_CREDENTIALS_FULL_URI=https://127.0.0.1:$PORT/x"
probe "FULL_URI to another host" 'error=.*not a loopback address or an ECS/EKS agent' \
	"${NOHOME[@]}" AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/creds
# 169.254.170.2 is not ours to contact: in a network namespace of its own
# (nothing routes there), the error names the address, at once.
if unshare -n true 2>/dev/null; then WRAP=(unshare -n)
elif unshare -rn true 2>/dev/null; then WRAP=(unshare -rn)
else WRAP=(); fi
if [ ${#WRAP[@]} -gt 0 ]; then
	TMO=300
	probe "RELATIVE_URI targets 169.254.170.2" \
		'error=container credentials \(GET http://169\.254\.170\.2/v2/creds\): connect to 169\.254\.170\.2:80: ' \
		"${NOHOME[@]}" AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/creds \
		"${C[@]}"
	WRAP=()
else
	say "RELATIVE_URI: skipped (no unshare -n: 169.254.170.2 stays untouched)"
fi
TMO=2000

step "IMDSv2 failures: slow, malformed, missing, 500, 403, down, disabled"
setmode slow
TMO=500
t0=$(date +%s%N)
probe "slow IMDS: timeout" \
	'error=IMDSv2 token request failed \(PUT .*\): timed out after 500 ms' \
	"${NOHOME[@]}" "${IMDS[@]}"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1500 ] || fail "slow IMDS: the probe took $ms ms (bound 500)"
say "slow IMDS: gave up after $ms ms"
figure iam_creds_timeout_ms "$ms" ms
TMO=2000
setmode malformed
probe "malformed JSON" 'error=IMDSv2 credentials from .*test-role: malformed JSON' \
	"${NOHOME[@]}" "${IMDS[@]}"
setmode missing
probe "missing SecretAccessKey" 'error=.*: no SecretAccessKey in the JSON answer' \
	"${NOHOME[@]}" "${IMDS[@]}"
setmode 500
probe "credentials HTTP 500" 'error=IMDSv2 credentials \(GET .*test-role\): HTTP 500' \
	"${NOHOME[@]}" "${IMDS[@]}"
setmode norole
probe "no role attached" 'error=IMDSv2: no IAM role attached' \
	"${NOHOME[@]}" "${IMDS[@]}"
setmode badrole
probe "role name not a name" 'error=IMDSv2 role name .*not a role name: "\.\./etc/\\x1b\[31m"' \
	"${NOHOME[@]}" "${IMDS[@]}"
setmode token403
mark
probe "token PUT refused" \
	'error=IMDSv2 token request failed \(PUT .*/latest/api/token\): HTTP 403; no fallback to IMDSv1' \
	"${NOHOME[@]}" "${IMDS[@]}"
since | grep -q '^GET' && fail "403 on the PUT, yet a GET followed (IMDSv1)"
setmode normal
probe "IMDS down" "error=IMDSv2 token request failed .*: connect to 127\\.0\\.0\\.1:$DOWN: connection refused" \
	"${NOHOME[@]}" "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$DOWN"
probe "bad endpoint" 'error=IMDSv2: AWS_EC2_METADATA_SERVICE_ENDPOINT: not an http:// URL' \
	"${NOHOME[@]}" AWS_EC2_METADATA_SERVICE_ENDPOINT=ftp://x
mark
probe "IMDS disabled" 'error=no credentials: .*IMDS disabled by AWS_EC2_METADATA_DISABLED' \
	"${NOHOME[@]}" AWS_EC2_METADATA_DISABLED=TRUE "${IMDS[@]}"
printf '%s\n' "$OUT" | grep -q '^static=no AWS_ACCESS_KEY_ID; .*no such file' ||
	fail "disabled: the static steps' reason is missing"
[ -z "$(since)" ] || fail "IMDS disabled, yet the fake was contacted"

step "expiring credentials: each fetch is a new one"
setmode expiring:40
probe "expiring soon (1)" 'source=IMDSv2' "${NOHOME[@]}" "${IMDS[@]}"
a1=$(printf '%s\n' "$OUT" | sed -n 's/^akid=//p')
e1=$(printf '%s\n' "$OUT" | sed -n 's/^expiration=//p')
probe "expiring soon (2)" 'source=IMDSv2' "${NOHOME[@]}" "${IMDS[@]}"
a2=$(printf '%s\n' "$OUT" | sed -n 's/^akid=//p')
now=$(date +%s)
{ [ "$e1" -ge $((now + 30)) ] && [ "$e1" -le $((now + 41)) ]; } ||
	fail "expiring: expiration $e1 is not now + 40"
[ "$a1" != "$a2" ] || fail "two fetches gave the same key id $a1"
say "two fetches: $a1 then $a2, expiring at now + $((e1 - now)) s"
setmode normal

step "the matrix"
printf '%-34s %-44s %s\n' CASE EXPECTED GOT
cat "$MATRIX"
say "$CASES cases passed"
figure iam_creds_cases "$CASES" cases

step "no secret in any output"
cat "$T/fake.out" >>"$ALL"
for s in "$ENV_SECRET" "$FILE_SECRET" "$OTHER_SECRET" "$SESSION" \
	file-session-token fake-imds-secret fake-container-secret \
	fake-imds-session-token fake-container-session-token \
	fake-container-auth AQAEAFAKE-imds; do
	if grep -qF -- "$s" "$ALL"; then
		grep -nF -- "$s" "$ALL" | head -n 3
		fail "a secret ($s...) was printed"
	fi
done
say "no secret in $(wc -l <"$ALL") lines of output"
