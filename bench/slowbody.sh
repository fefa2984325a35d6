#!/usr/bin/env bash
# Slow bodies: what CONNS clients that send a notification's headers, declare
# a 4 MiB body and then send one byte cost Caddy, with plain reverse_proxy
# and with paynotify (max_body 4MiB), each in a Caddy of its own. Prints the
# heap growth while they are held (go_memstats_heap_inuse_bytes) and how they
# were answered: paynotify answers 408 after body_timeout (BODY_TIMEOUT, 10s).
#
#   bench/slowbody.sh            CONNS (300), BODY_TIMEOUT (10s)
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-300}
body_timeout=${BODY_TIMEOUT:-10s}

./xcaddy.sh >/dev/null
. scripts/lib.sh
make_work
go build -o "$work/slowbody" ./bench/slowbody

echo "| route | connections | heap before | heap while held | per connection | answers |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for route in plain paynotify; do
	port=$(free_port) up_port=$(free_port) admin_port=$(free_port)
	handler="reverse_proxy 127.0.0.1:$up_port"
	if [ "$route" = paynotify ]; then
		handler="paynotify octo3 {
			secret bench-secret
			max_body 4MiB
			body_timeout $body_timeout
			dedup off
		}
		$handler"
	fi
	cat >"$work/Caddyfile" <<CADDYFILE
{
	admin 127.0.0.1:$admin_port
	persist_config off
	log {
		output file $work/caddy-$route.log
	}
}
http://127.0.0.1:$port {
	handle /octo3 {
		$handler
	}
}
http://127.0.0.1:$up_port {
	respond 200
}
CADDYFILE
	XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config ./caddy run --config "$work/Caddyfile" \
		--adapter caddyfile >"$work/caddy-$route.out" 2>&1 &
	caddy_pid=$!
	pids+=("$caddy_pid")
	wait_port "$port"
	out=$("$work/slowbody" -url "http://127.0.0.1:$port/octo3" -metrics "http://127.0.0.1:$admin_port/metrics" \
		-conns "$conns" -hold 3s -wait 15s)
	kill "$caddy_pid"
	wait "$caddy_pid" 2>/dev/null || true
	echo "$out" | awk -v r="$route" '
		/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		/^ANSWERS/ { sub(/^ANSWERS /, ""); answers = $0 }
		END { printf "| %s | %d | %.1f MiB | %.1f MiB | %.1f KiB | %s |\n", r, v["conns"],
			v["heap_before"] / 1048576, v["heap_held"] / 1048576, v["per_conn"] / 1024, answers }'
done
