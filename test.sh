#!/usr/bin/env bash
# The whole test suite: formatting, vet, the unit and end-to-end tests with
# the race detector (the Redis tests start their own redis-server on a free
# loopback port), the fuzz targets' seed corpora, a smoke test of the built
# binary on Caddyfile.example with the README's test notifications and a
# restart, two Caddy nodes sharing one redis-server, one short round of
# bench/load.sh (needs wrk), its profile mode, and bench/verify.sh once.
# Every Caddy it starts keeps its state in scratch directories, and it
# fails if the user's own Caddy directories (~/.config/caddy,
# ~/.local/share/caddy) were created or changed.
#
# SKIP_GO_TESTS=1 skips `go test -race ./...` (the longest part), for a
# quick run of the smoke test; the summary then says it is not the whole
# suite. CI (.ci/run) always runs everything.
set -euo pipefail
cd "$(dirname "$0")"

# The user's own Caddy state, as Caddy finds it from this environment (its
# config directory, its data directory, and certmagic's default storage):
# listed with sizes and modification times now, compared at the end.
user_caddy_dirs=("${XDG_CONFIG_HOME:-$HOME/.config}/caddy" "${XDG_DATA_HOME:-$HOME/.local/share}/caddy"
	"${XDG_DATA_HOME:-$HOME/.local/share}/certmagic")
user_caddy_state() {
	local dir
	for dir in "${user_caddy_dirs[@]}"; do
		if [ -e "$dir" ]; then
			find "$dir" -printf '%p %y %s %T@\n' | LC_ALL=C sort
		else
			echo "$dir absent"
		fi
	done
}
user_state_before=$(user_caddy_state)
user_state_changes() { # prints what changed in the user's Caddy directories since the start
	diff <(printf '%s\n' "$user_state_before") <(user_caddy_state) | grep '^[<>]' || true
}

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

if [ "${SKIP_GO_TESTS:-}" = 1 ]; then
	echo "== go test -race: SKIPPED (SKIP_GO_TESTS=1)"
else
	echo "== go test -race"
	# With the user's environment, so that the check below catches a test
	# that writes into the user's Caddy directories (the end-to-end tests'
	# TestMain points Caddy at a directory of their own).
	go test -race -count=1 ./...
	changes=$(user_state_changes)
	if [ -n "$changes" ]; then
		echo "FAIL go test changed the user's Caddy directories:" >&2
		echo "$changes" >&2
		exit 1
	fi
fi

echo "== smoke test: ./xcaddy.sh, Caddyfile.example, examples/send.sh"
./xcaddy.sh
. scripts/lib.sh
make_work
# Before any Caddy starts: every Caddy of this script (the example, the
# cluster nodes, bench/load.sh's) keeps its config and data (autosave,
# local CA, dedup file) under $work, never in the user's home.
export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
log=$work/example.log

start_example() {
	./caddy run --config Caddyfile.example --adapter caddyfile >>"$log" 2>&1 &
	example_pid=$!
	pids+=("$example_pid")
	for _ in $(seq 50); do
		curl -fsS -o /dev/null http://localhost:2019/config/ 2>/dev/null && return
		sleep 0.2
	done
	echo "Caddy did not start" >&2
	cat "$log" >&2
	exit 1
}
stop_example() {
	kill "$example_pid"
	wait "$example_pid" 2>/dev/null || true
}
received() { # how many paynotify.v1 events the demo app logged, optionally for one order
	sleep 0.5 # let the access log lines be written
	grep '"received_body":"{\\"schema\\":\\"paynotify.v1\\"' "$log" | grep -c -- "${1:-}" || true
}

passed=0 failed=0
check() { # check <description> <wanted> <got>
	if [ "$3" = "$2" ]; then
		echo "ok   $1: $3"
		passed=$((passed + 1))
	else
		echo "FAIL $1: got '$3', want '$2'"
		failed=$((failed + 1))
	fi
}

send() { # send <arguments>: the lines examples/send.sh printed, joined by |, and its exit status
	local out status=0
	out=$(examples/send.sh "$@" 2>&1) || status=$?
	echo "$(printf '%s\n' "$out" | paste -sd'|')|exit $status"
}

start_example
# Caddyfile.example listens on this machine only: the admin endpoint, the
# notification site and the demo app.
listeners() { # the local addresses the example's Caddy listens on
	ss -ltnpH | grep -F "pid=$example_pid," | awk '{ print $4 }' | LC_ALL=C sort -u
}
check "ports the example listens on" "2019 8080 8081 8082" "$(listeners | sed 's/.*://' | sort -nu | paste -sd' ')"
check "the example's listeners not on loopback" "" \
	"$(listeners | grep -v '^127\.\|^\[::1\]:\|^\[::ffff:127\.' | paste -sd' ')"
for provider_ack in octo3:ACK thedao:ACK checkout: octopus:success oobit:OK; do
	provider=${provider_ack%%:*} ack=${provider_ack#*:}
	check "$provider signed" "$ack (HTTP 200)|exit 0" "$(send "$provider")"
	check "$provider tampered" " (HTTP 401)|exit 1" "$(send "$provider" --tamper)"
done
usage="usage: examples/send.sh <octo3|thedao|checkout|octopus|oobit> [--tamper]"
check "examples/send.sh with an unknown flag" "examples/send.sh: unknown argument '--tampr'|$usage|exit 2" \
	"$(send octo3 --tampr)"
check "examples/send.sh with an unknown provider" \
	"examples/send.sh: unknown provider 'octo4' (octo3, thedao, checkout, octopus, oobit)|$usage|exit 2" \
	"$(send octo4)"
check "examples/send.sh without a provider" "$usage|exit 2" "$(send)"
check "paynotify.v1 events the demo app received (thedao forwards the original)" "4" "$(received)"

# The README's quick start: the CLI signs and sends, the counters move.
metric() { # metric <provider> <outcome>: the counter on the admin endpoint
	curl -fsS http://localhost:2019/metrics |
		sed -n "s/^caddy_paynotify_notifications_total{outcome=\"$2\",provider=\"$1\"} //p"
}
# 1, not 2: examples/send.sh octo3 --tampr sent nothing.
check "counter of signed octo3 notifications delivered so far" "1" "$(metric octo3 delivered)"
check "counter of tampered octo3 notifications" "1" "$(metric octo3 invalid_signature)"
demo_args() {
	case $1 in
	checkout) echo "--secret checkout-demo-key --authorization checkout-demo-authorization" ;;
	octopus) echo "--secret octopus-demo-secret --key octopus-demo-key" ;;
	oobit) echo "--secret oobit-demo-hash-key" ;;
	*) echo "--secret $1-demo-secret" ;;
	esac
}
cli() { # cli <args>: the lines caddy paynotify printed, joined by |, and its exit status
	local out status=0
	out=$(./caddy paynotify "$@" 2>/dev/null) || status=$?
	echo "$(printf '%s\n' "$out" | tr -d '\r' | paste -sd'|')|exit $status"
}
for provider_ack in octo3:ACK thedao:ACK checkout: octopus:success oobit:OK; do
	provider=${provider_ack%%:*} ack=${provider_ack#*:}
	# shellcheck disable=SC2046
	check "caddy paynotify sign $provider --url" "HTTP/1.1 200 OK${ack:+|$ack}|exit 0" \
		"$(cli sign "$provider" $(demo_args "$provider") --url "http://localhost:8080/notify/$provider")"
	# shellcheck disable=SC2046
	check "caddy paynotify sign $provider, printed curl" "200" \
		"$(sh -c "$(./caddy paynotify sign "$provider" $(demo_args "$provider")) -o /dev/null -w '%{http_code}'")"
done
check "caddy paynotify sign with a wrong secret" "HTTP/1.1 401 Unauthorized|exit 1" \
	"$(cli sign octo3 --secret wrong --url http://localhost:8080/notify/octo3)"
# The providers beyond the seeds, each on its route of Caddyfile.example,
# signed with the example's demo secret and options: the reply is the
# provider's ACK; another secret is refused with the provider's status for
# a bad signature (GoCardless: 498).
sign_new() { # sign_new <provider> <secret>: what caddy paynotify sign printed, joined by |, and its exit status
	local provider=$1 secret=$2 extra=()
	case $provider in
	standardwebhooks) extra=(--option 'field order_id data.metadata.order_id' --option 'field status type'
		--option 'status succeeded order.paid') ;;
	hmac) extra=(--option 'header X-Signature' --option 'field order_id meta.custom_data.order_id'
		--option 'field status data.attributes.status' --option 'status succeeded paid') ;;
	square) extra=(--option 'url http://localhost:8080/notify/square') ;;
	esac
	cli sign "$provider" --secret "$secret" "${extra[@]}" --url "http://localhost:8080/notify/$provider"
}
for provider_secret in stripe:whsec_stripe-demo-secret paddle:pdl_ntfset_paddle-demo-secret \
	standardwebhooks:whsec_c3RhbmRhcmR3ZWJob29rcy1kZW1vLXNlY3JldA== hmac:hmac-demo-secret \
	adyen:7061796E6F7469667920616479656E2064656D6F20686D6163206B6579212121 gocardless:gocardless-demo-secret \
	razorpay:razorpay-demo-secret square:square-demo-signature-key paystack:paystack-demo-secret; do
	provider=${provider_secret%%:*} secret=${provider_secret#*:}
	case $provider in
	adyen) want="HTTP/1.1 200 OK|[accepted]|exit 0" bad="HTTP/1.1 401 Unauthorized|exit 1"
		secret_bad=00${secret#??} ;;
	gocardless) want="HTTP/1.1 204 No Content|exit 0" bad="HTTP/1.1 498 status code 498|exit 1" secret_bad=wrong ;;
	*) want="HTTP/1.1 200 OK|exit 0" bad="HTTP/1.1 401 Unauthorized|exit 1" secret_bad=wrong ;;
	esac
	[ "$provider" = standardwebhooks ] && secret_bad=whsec_d3Jvbmctc2VjcmV0LW9mLTI0LWJ5dGVzIQ==
	check "caddy paynotify sign $provider --url" "$want" "$(sign_new "$provider" "$secret")"
	check "caddy paynotify sign $provider with another secret" "$bad" "$(sign_new "$provider" "$secret_bad")"
done
check "notifications of the new providers the app received" "9" \
	"$(grep -c '"provider":"\(stripe\|paddle\|standardwebhooks\|hmac\|adyen\|gocardless\|razorpay\|square\|paystack\)","outcome":"delivered"' "$log")"
check "counter of octo3 notifications delivered after the CLI's" "3" "$(metric octo3 delivered)"
# deliver queued: the ACK once the event is stored, then paynotify's own
# delivery to the demo app (its log line "delivery", result delivered).
check "caddy paynotify sign stripe to the queued route" "HTTP/1.1 200 OK|exit 0" \
	"$(cli sign stripe --secret whsec_stripe-demo-secret --url http://localhost:8080/notify/stripe-queued)"
sleep 1
check "queued stripe notifications" "1" "$(metric stripe queued)"
check "queued deliveries the demo app accepted" "1" \
	"$(grep '"msg":"delivery"' "$log" | grep -c '"provider":"stripe".*"result":"delivered"')"
check "the queued event at the demo app" "1" "$(grep -c '"uri":"/webhooks/stripe"' "$log")"
check "caddy paynotify queue: the queued route, its depth and dead letters" "stripe stripe/stripe-queued 0 0" \
	"$(./caddy paynotify queue --address localhost:2019 | awk '$2 == "stripe/stripe-queued" { print $1, $2, $3, $6 }')"
check "caddy_paynotify_queue_depth of stripe after the delivery" "0" \
	"$(curl -fsS http://localhost:2019/metrics | sed -n 's/^caddy_paynotify_queue_depth{provider="stripe"} //p')"
check "caddy paynotify schema" "paynotify.v1" "$(./caddy paynotify schema | sed -n 's/^  "title": "\(.*\)",$/\1/p')"
# The providers verified by inquiry, against the example's stand-in API
# (localhost:8082): the ACK, and the log line says the API confirmed it.
check "caddy paynotify sign mollie --url" "HTTP/1.1 200 OK|exit 0" \
	"$(cli sign mollie --option 'api_key test_demoMollieApiKey0000000000' --order ORD-MOLLIE --url http://localhost:8080/notify/mollie)"
check "caddy paynotify sign paypal_ipn --url" "HTTP/1.1 200 OK|exit 0" \
	"$(cli sign paypal_ipn --option 'receiver merchant@example.com' --url http://localhost:8080/notify/paypal_ipn)"
check "caddy paynotify sign paypal_ipn to another receiver" "HTTP/1.1 403 Forbidden|exit 1" \
	"$(cli sign paypal_ipn --option 'receiver other@example.com' --url http://localhost:8080/notify/paypal_ipn)"
check "caddy paynotify sign paypal --url" "HTTP/1.1 200 OK|exit 0" \
	"$(cli sign paypal --option 'webhook_id 8PT597110X687430LKGECATA' --option 'client_id demo-paypal-client-id' \
		--option 'client_secret demo-paypal-client-secret' --url http://localhost:8080/notify/paypal)"
check "inquiring providers' notifications the API confirmed and the app received" "3" \
	"$(grep -c '"provider":"\(mollie\|paypal_ipn\|paypal\)","outcome":"delivered".*"inquiry":"confirmed"' "$log")"
check "counter of paypal_ipn notifications refused (receiver)" "1" "$(metric paypal_ipn invalid_signature)"
# The public-key providers, signed with the demo private keys of
# examples/keys, whose public halves Caddyfile.example trusts.
alipay_args=(--option 'public_key {file.examples/keys/alipay-demo.pub}')
wechatpay_args=(--option 'public_key PUB_KEY_ID_DEMO {file.examples/keys/wechatpay-demo.pub}')
check "caddy paynotify sign alipay --url" "HTTP/1.1 200 OK|success|exit 0" \
	"$(cli sign alipay --private-key examples/keys/alipay-demo.pem "${alipay_args[@]}" --option 'app_id 2021000000000000' \
		--url http://localhost:8080/notify/alipay)"
check "caddy paynotify sign alipay in GBK --url" "HTTP/1.1 200 OK|success|exit 0" \
	"$(cli sign alipay --private-key examples/keys/alipay-demo.pem "${alipay_args[@]}" --option 'app_id 2021000000000000' \
		--field charset=gbk --field subject=语雀空间 --url http://localhost:8080/notify/alipay)"
check "caddy paynotify sign alipay for another app" "HTTP/1.1 403 Forbidden|exit 1" \
	"$(cli sign alipay --private-key examples/keys/alipay-demo.pem "${alipay_args[@]}" --option 'app_id 2021000000000009' \
		--url http://localhost:8080/notify/alipay)"
check "caddy paynotify sign alipay with another key" "HTTP/1.1 401 Unauthorized|exit 1" \
	"$(cli sign alipay --private-key examples/keys/wechatpay-demo.pem --option 'public_key {file.examples/keys/wechatpay-demo.pub}' \
		--option 'app_id 2021000000000000' --url http://localhost:8080/notify/alipay)"
check "caddy paynotify sign wechatpay --url" "HTTP/1.1 204 No Content|exit 0" \
	"$(cli sign wechatpay --private-key examples/keys/wechatpay-demo.pem "${wechatpay_args[@]}" \
		--option 'apiv3_key wechatpay-demo-apiv3-key-32chars' --url http://localhost:8080/notify/wechatpay)"
check "caddy paynotify sign wechatpay with another APIv3 key" "HTTP/1.1 401 Unauthorized|exit 1" \
	"$(cli sign wechatpay --private-key examples/keys/wechatpay-demo.pem "${wechatpay_args[@]}" \
		--option 'apiv3_key another-apiv3-key-of-32-chars-xy' --url http://localhost:8080/notify/wechatpay)"
check "public-key providers' notifications the app received" "2|1" \
	"$(grep -c '"provider":"alipay","outcome":"delivered"' "$log")|$(grep -c '"provider":"wechatpay","outcome":"delivered"' "$log")"
check "counter of wechatpay notifications refused" "1" "$(metric wechatpay invalid_signature)"
check "caddy paynotify providers" "adyen alipay checkout gocardless hmac mollie octo3 octopus oobit paddle paypal paypal_ipn paystack razorpay square standardwebhooks stripe thedao wechatpay" \
	"$(./caddy paynotify providers --json | sed -n 's/^    "name": "\(.*\)",$/\1/p' | tr '\n' ' ' | sed 's/ $//')"

# Dedup across a restart of Caddy: the provider retries after the restart.
check "before the restart" "ACK (HTTP 200)|exit 0" "$(ORDER=ORD-RESTART send octo3)"
stop_example
start_example
check "the same event after the restart" "ACK (HTTP 200)|exit 0" "$(ORDER=ORD-RESTART send octo3)"
check "deliveries of that event to the app" "1" "$(received ORD-RESTART)"
stop_example
# The quick start's state: the dedup file in Caddy's data directory, and no
# autosave.json (persist_config off) with the demo secrets in its config
# directory.
check "the example's dedup file" "$XDG_DATA_HOME/caddy/paynotify/dedup.db" \
	"$(ls "$XDG_DATA_HOME/caddy/paynotify/dedup.db" 2>&1)"
check "files the example wrote in Caddy's config directory" "" "$(find "$XDG_CONFIG_HOME" -type f 2>/dev/null)"

echo "== cluster test: two Caddy nodes, one redis-server"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=("$!")
wait_port "$redis_port" "$work/redis.log"
export REDIS_URL=redis://127.0.0.1:$redis_port/0 APP_PORT=$(free_port)
# The app takes 300 ms per event, so that both nodes claim while the first
# delivery is still under way.
go build -o "$work/demoapp" ./internal/demoapp
"$work/demoapp" -listen "127.0.0.1:$APP_PORT" -delay 300ms >"$work/app.log" 2>&1 &
pids+=("$!")
wait_port "$APP_PORT" "$work/app.log"
node_ports=()
for node in a b; do
	port=$(free_port)
	node_ports+=("$port")
	NODE_PORT=$port XDG_DATA_HOME=$work/$node/data XDG_CONFIG_HOME=$work/$node/config \
		./caddy run --config testdata/cluster/node.Caddyfile --adapter caddyfile >"$work/node-$node.log" 2>&1 &
	pids+=("$!")
	wait_port "$port" "$work/node-$node.log"
done
# The same notification reaches both nodes at the same moment, five times over.
for i in 1 2 3 4 5; do
	senders=()
	for port in "${node_ports[@]}"; do
		ORDER=ORD-CLUSTER-$i BASE_URL=http://127.0.0.1:$port examples/send.sh octo3 >"$work/reply-$i-$port" 2>&1 &
		senders+=("$!")
	done
	wait "${senders[@]}" || true
done
deliveries() { # events for order $1 the cluster's app received
	sleep 0.5
	grep -cF "\"order_id\":\"$1\"" "$work/app.log" || true
}
for i in 1 2 3 4 5; do
	check "ORD-CLUSTER-$i sent to both nodes at once: deliveries to the app" "1" "$(deliveries "ORD-CLUSTER-$i")"
	acks=$(cat "$work"/reply-"$i"-* | grep -c "ACK (HTTP 200)" || true)
	conflicts=$(cat "$work"/reply-"$i"-* | grep -c "(HTTP 409)" || true)
	check "ORD-CLUSTER-$i replies that are the ACK or 409" "2" "$((acks + conflicts))"
	total_conflicts=$((${total_conflicts:-0} + conflicts))
done
echo "     (of the 10 simultaneous replies, $total_conflicts were 409: the other node was delivering)"
# The retry that follows: both nodes know it was delivered.
for port in "${node_ports[@]}"; do
	check "retry of ORD-CLUSTER-1 at node $port" "ACK (HTTP 200)|exit 0" "$(ORDER=ORD-CLUSTER-1 BASE_URL=http://127.0.0.1:$port send octo3)"
done
check "deliveries of ORD-CLUSTER-1 after the retries" "1" "$(deliveries ORD-CLUSTER-1)"

echo "== bench/load.sh runs (one short round; its figures mean nothing here)"
if ROUNDS=1 DURATION=1s LAT_DURATION=1s PER_RUN=30000 LAT_PER_RUN=15000 bench/load.sh >"$work/load.out" 2>&1; then
	check "bench/load.sh table rows" "5" "$(grep -c '^| paynotify\|^| plain' "$work/load.out" || true)"
else
	check "bench/load.sh" "exit 0" "failed: $(tail -3 "$work/load.out")"
fi

echo "== bench/load.sh PROFILE=off runs (a CPU profile of Caddy on one route)"
if PROFILE=off DURATION=3s PER_RUN=30000 LAT_PER_RUN=15000 PROFILE_OUT="$work/off.pprof" bench/load.sh >"$work/profile.out" 2>&1; then
	check "bench/load.sh PROFILE=off shows the handler" "yes" \
		"$(grep -q 'caddymodule.(\*Handler).ServeHTTP' "$work/profile.out" && echo yes || tail -3 "$work/profile.out")"
else
	check "bench/load.sh PROFILE=off" "exit 0" "failed: $(tail -3 "$work/profile.out")"
fi

echo "== bench/verify.sh runs (each benchmark once, 200 notifications; figures mean nothing here)"
if COUNT=1 bench/verify.sh -benchtime 200x >"$work/verify.out" 2>&1; then
	check "bench/verify.sh rows with a ratio to a floor" "19" "$(grep -c '^| .* | \(yes\|no\) |$' "$work/verify.out" || true)"
else
	check "bench/verify.sh" "exit 0" "failed: $(tail -3 "$work/verify.out")"
fi

check "files the cluster nodes wrote in their config directories" "" \
	"$(find "$work/a/config" "$work/b/config" -type f 2>/dev/null)"

check "changes to the user's Caddy directories (${user_caddy_dirs[*]})" "" "$(user_state_changes | paste -sd' ')"

if [ $failed -ne 0 ]; then
	for f in "$log" "$work"/*.log; do
		echo "--- $f" >&2
		tail -20 "$f" >&2
	done
fi
echo "smoke: $passed passed, $failed failed"
if [ "${SKIP_GO_TESTS:-}" = 1 ]; then
	echo "go test -race was skipped (SKIP_GO_TESTS=1): this was not the whole suite"
fi
[ $failed -eq 0 ]
