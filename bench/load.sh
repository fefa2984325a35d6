#!/usr/bin/env bash
# Load run: paynotify's throughput and latency next to plain reverse_proxy.
#
#   bench/load.sh
#
# Builds Caddy (./xcaddy.sh) and starts one instance with a fast upstream (a
# second Caddy process that answers 200) and four routes to it: plain reverse_proxy,
# and paynotify with dedup off, with the bolt store and with Redis (a
# redis-server of its own on a free loopback port). wrk drives them with a
# Lua script (bench/load.lua), every request a distinct, correctly signed
# notification written beforehand by bench/gen, in interleaved rounds: each
# round runs every route once, in a rotated order, first with CONNS
# connections for throughput, then with one connection for latency. It
# prints each run, then the median of the rounds per route and its ratio to
# plain reverse_proxy, as a Markdown table.
#
# Settings (environment): PROVIDER (octo3), ROUNDS (5), DURATION (5s, per
# throughput run), LAT_DURATION (3s, per latency run), CONNS (32),
# BASELINE (the path of another caddy binary, e.g. one built from an earlier
# commit: it runs the same Caddyfile beside this one, and its paynotify
# routes, named base-off, base-bolt and base-redis, take part in the same
# interleaved rounds, so that before and after are compared in one run). On a
# machine with two or more CPUs, Caddy runs on CPU 1 and wrk and Redis on
# CPU 0, so that the load generator does not take Caddy's CPU.
# Needs go, curl, wrk and redis-server (apt-get install wrk redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."

provider=${PROVIDER:-octo3}
rounds=${ROUNDS:-5}
duration=${DURATION:-5s}
lat_duration=${LAT_DURATION:-3s}
conns=${CONNS:-32}
# Lines per run: more than a run can send, so that every request is a new event.
per_run=${PER_RUN:-80000}
lat_per_run=${LAT_PER_RUN:-20000}

missing=()
for tool in wrk redis-server curl go; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [[ ! " ${missing[*]} " =~ " go " ]]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server curl >/dev/null
	else
		echo "bench/load.sh needs: ${missing[*]} (apt-get install wrk redis-server curl)" >&2
		exit 1
	fi
fi

./xcaddy.sh >/dev/null
. scripts/lib.sh
make_work

caddy_cpu=() load_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	caddy_cpu=(taskset -c 1) load_cpu=(taskset -c 0)
fi

echo "== generating $((rounds * (per_run + lat_per_run) + 2 * lat_per_run)) signed $provider notifications"
go run ./bench/gen -provider "$provider" -n $((rounds * (per_run + lat_per_run) + 2 * lat_per_run)) -out "$work/notifications"

redis_port=$(free_port)
"${load_cpu[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
	>"$work/redis.log" 2>&1 &
pids+=("$!")
wait_port "$redis_port"

port=$(free_port) up_port=$(free_port)
case $provider in
checkout) credential="authorization bench-authorization" ;;
octopus) credential="key bench-key" ;;
*) credential="" ;;
esac
paynotify() { # paynotify <dedup options>
	printf 'paynotify %s {\n\t\t\tsecret bench-secret\n\t\t\tallow_ip 127.0.0.1\n\t\t\t%s\n\t\t\t%s\n\t\t}' \
		"$provider" "$credential" "$1"
}
caddyfile() { # caddyfile <port> <name>: the Caddyfile of one instance
	cat <<CADDYFILE
{
	admin off
	persist_config off
	log {
		output file $work/$2.log
	}
}
http://127.0.0.1:$1 {
	handle /plain {
		reverse_proxy 127.0.0.1:$up_port
	}
	handle /off {
		$(paynotify "dedup off")
		reverse_proxy 127.0.0.1:$up_port
	}
	handle /bolt {
		$(paynotify "store bolt $work/$2-dedup.db
			dedup_scope bolt")
		reverse_proxy 127.0.0.1:$up_port
	}
	handle /redis {
		$(paynotify "store redis redis://127.0.0.1:$redis_port/0
			dedup_scope redis-$2")
		reverse_proxy 127.0.0.1:$up_port
	}
}
CADDYFILE
}
start_caddy() { # start_caddy <binary> <port> <name>
	if [ "$3" = upstream ]; then
		printf '{\n\tadmin off\n\tpersist_config off\n}\nhttp://127.0.0.1:%s {\n\trespond 200\n}\n' "$2"
	else
		caddyfile "$2" "$3"
	fi >"$work/$3.Caddyfile"
	XDG_DATA_HOME=$work/$3-data XDG_CONFIG_HOME=$work/$3-config "${caddy_cpu[@]}" "$1" run \
		--config "$work/$3.Caddyfile" --adapter caddyfile >"$work/$3.out" 2>&1 &
	pids+=("$!")
	wait_port "$2"
}
# The upstream runs in a process of its own, so that every route, this
# binary's and the baseline's, proxies to another process alike.
start_caddy ./caddy "$up_port" upstream
start_caddy ./caddy "$port" caddy
routes=(plain off bolt redis)
if [ -n "${BASELINE:-}" ]; then
	base_port=$(free_port)
	start_caddy "$BASELINE" "$base_port" baseline
	routes+=(base-off base-bolt base-redis)
	echo "== baseline: $BASELINE ($("$BASELINE" version | head -1))"
fi

results=$work/results
run() { # run <route> <phase> <connections> <duration> <first line> <lines>
	local out
	local at=$port path=/$1
	if [[ $1 == base-* ]]; then
		at=$base_port path=/${1#base-}
	fi
	out=$("${load_cpu[@]}" wrk -t1 -c"$3" -d"$4" --timeout 10s -s bench/load.lua "http://127.0.0.1:$at" \
		-- "$work/notifications" "$5" "$6" 1 "$path" | grep '^RESULT') || {
		echo "wrk failed on /$1" >&2
		exit 1
	}
	echo "$1 $2 ${out#RESULT }" | tee -a "$results"
}

echo "== warm-up"
for route in "${routes[@]}"; do
	run "$route" warmup 4 2s $((rounds * (per_run + lat_per_run))) $((2 * lat_per_run)) >/dev/null
done
rm -f "$results"

echo "== $rounds rounds: $duration with $conns connections, then $lat_duration with 1, per route"
for round in $(seq 0 $((rounds - 1))); do
	first=$((round * (per_run + lat_per_run)))
	for i in "${!routes[@]}"; do
		route=${routes[$(((i + round) % ${#routes[@]}))]}
		run "$route" throughput "$conns" "$duration" "$first" "$per_run"
		run "$route" latency 1 "$lat_duration" $((first + per_run)) "$lat_per_run"
	done
done

if grep -v '^plain' "$results" | grep -q 'wrapped=true'; then
	echo "a paynotify run sent an event twice (raise PER_RUN/LAT_PER_RUN): its figures are not valid" >&2
	exit 1
fi
if grep -qv 'non2xx=0 socket_errors=0' "$results"; then
	echo "some requests were not answered 2xx:" >&2
	grep -v 'non2xx=0 socket_errors=0' "$results" >&2
	exit 1
fi

median() { # median <route> <phase> <field>
	grep "^$1 $2 " "$results" | tr ' ' '\n' | sed -n "s/^$3=//p" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "Medians of $rounds rounds, $provider, $(nproc) CPUs$([ ${#caddy_cpu[@]} -gt 0 ] && echo ", Caddy pinned to one"):"
echo
echo "| route | req/s ($conns conns) | × plain | p50 | p99 | p50 (1 conn) | p99 (1 conn) | added p99 (1 conn) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
plain_rps=$(median plain throughput rps)
plain_p99=$(median plain latency p99)
for route in "${routes[@]}"; do
	rps=$(median "$route" throughput rps)
	awk -v r="$route" -v rps="$rps" -v base="$plain_rps" -v p50="$(median "$route" throughput p50)" \
		-v p99="$(median "$route" throughput p99)" -v l50="$(median "$route" latency p50)" \
		-v l99="$(median "$route" latency p99)" -v b99="$plain_p99" 'BEGIN {
		name = (r == "plain") ? "plain reverse_proxy" : "paynotify, dedup " r
		if (r ~ /^base-/) name = "baseline paynotify, dedup " substr(r, 6)
		printf "| %s | %.0f | %.2f | %.2f ms | %.2f ms | %.3f ms | %.3f ms | %+.3f ms |\n",
			name, rps, rps / base, p50 / 1000, p99 / 1000, l50 / 1000, l99 / 1000, (l99 - b99) / 1000
	}'
done
