#!/usr/bin/env bash
# The whole test suite: formatting, vet, the unit and end-to-end tests with
# the race detector, the fuzz targets' seed corpora, and a smoke test of the
# built binary on Caddyfile.example with the README's test notification.
set -euo pipefail
cd "$(dirname "$0")"

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== smoke test: ./xcaddy.sh, Caddyfile.example, examples/send.sh"
./xcaddy.sh
log=$(mktemp)
export XDG_DATA_HOME=$(mktemp -d) XDG_CONFIG_HOME=$(mktemp -d)
./caddy run --config Caddyfile.example --adapter caddyfile >"$log" 2>&1 &
caddy_pid=$!
trap 'kill $caddy_pid 2>/dev/null; wait $caddy_pid 2>/dev/null; rm -rf "$log" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"' EXIT
for _ in $(seq 50); do
	curl -fsS -o /dev/null http://localhost:2019/config/ 2>/dev/null && break
	sleep 0.2
done
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
for provider_ack in octo3:ACK thedao:ACK checkout: octopus:success oobit:OK; do
	provider=${provider_ack%%:*} ack=${provider_ack#*:}
	check "$provider signed" "$ack (HTTP 200)" "$(examples/send.sh "$provider" 2>&1 || true)"
	check "$provider tampered" " (HTTP 401)" "$(examples/send.sh "$provider" --tamper 2>&1 || true)"
done
sleep 0.5 # let the access log lines be written
delivered=$(grep -c '"received_body":"{\\"schema\\":\\"paynotify.v1\\"' "$log" || true)
check "paynotify.v1 events the demo app received (thedao forwards the original)" "4" "$delivered"
[ $failed -eq 0 ] || cat "$log" >&2
echo "smoke: $passed passed, $failed failed"
[ $failed -eq 0 ]
