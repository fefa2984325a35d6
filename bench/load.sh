#!/usr/bin/env bash
# Load run: paynotify's throughput and latency next to plain reverse_proxy.
#
#   bench/load.sh
#
# Builds Caddy (./xcaddy.sh) and starts one instance with a fast upstream (a
# second Caddy process that answers 200) and five routes to it: plain reverse_proxy,
# paynotify with dedup off, with the bolt store and with Redis (a
# redis-server of its own on a free loopback port), and paynotify with the
# bolt store and deliver queued (the ACK once the event is stored; the
# route's worker delivers it to the same upstream). wrk drives them with a
# Lua script (bench/load.lua), every request a distinct, correctly signed
# notification written beforehand by bench/gen, in interleaved rounds: each
# round runs every route once, in a rotated order, first with CONNS
# connections for throughput, then with one connection for latency. It
# prints each run, then the median of the rounds per route and its ratio to
# plain reverse_proxy, as a Markdown table.
#
# The queued route's latencies are those of its ACKs. Its delivery
# throughput (delivered/s) is counted apart: after each of its runs the
# script waits until its queue is empty (caddy_paynotify_queue_depth on the
# admin endpoint's metrics) and every event it queued in the run was
# delivered, then divides the deliveries by the time from the run's first
# ACK to its last delivery (both from Caddy's log). A direct route delivers
# each event before its ACK: its delivered/s is its req/s. A line after the
# table gives the queued route's figures as ratios to the direct route with
# the same store (dedup bolt), measured in the same run.
#
# Settings (environment): PROVIDER (octo3), ROUNDS (5), DURATION (5s, per
# throughput run), LAT_DURATION (3s, per latency run), CONNS (32),
# QUEUE_CONCURRENCY (the queued route's concurrency; default deliver
# queued's, 4), BASELINE (the path of another caddy binary, e.g. one built
# from an earlier commit: it runs the same Caddyfile beside this one, without
# the queued route, which an earlier binary may not have, and its paynotify
# routes, named base-off, base-bolt and base-redis, take part in the same
# interleaved rounds, so that before and after are compared in one run). On a
# machine with two or more CPUs, Caddy runs on CPU 1 and wrk and Redis on
# CPU 0, so that the load generator does not take Caddy's CPU. Caddy's log
# file is not rolled during the run (roll_disabled): five rounds write more
# than its default 100 MiB, and the queued route's accounting reads every
# line of one file. PROFILE=<route>
# profiles Caddy on one route instead of running the rounds (see below).
# Needs go, curl, wrk and redis-server (apt-get install wrk redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."

provider=${PROVIDER:-octo3}
rounds=${ROUNDS:-5}
duration=${DURATION:-5s}
lat_duration=${LAT_DURATION:-3s}
conns=${CONNS:-32}
queue_concurrency=${QUEUE_CONCURRENCY:-} # the queued route's concurrency; unset: its default (4)
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
wait_port "$redis_port" "$work/redis.log"

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
caddyfile() { # caddyfile <port> <name> [<admin port>]: the Caddyfile of one instance; with an admin port, with the queued route
	local admin=off queued=
	if [ -n "${3:-}" ]; then
		admin=127.0.0.1:$3
		queued="
	handle /queued {
		$(paynotify "store bolt $work/$2-queued.db
			dedup_scope queued
			deliver queued {
				to http://127.0.0.1:$up_port${queue_concurrency:+
				concurrency $queue_concurrency}
			}")
	}"
	fi
	cat <<CADDYFILE
{
	admin $admin
	persist_config off
	log {
		output file $work/$2.log {
			roll_disabled
		}
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
	}$queued
}
CADDYFILE
}
start_caddy() { # start_caddy <binary> <port> <name> [<admin port>]
	if [ "$3" = upstream ]; then
		printf '{\n\tadmin off\n\tpersist_config off\n}\nhttp://127.0.0.1:%s {\n\trespond 200\n}\n' "$2"
	else
		caddyfile "$2" "$3" "${4:-}"
	fi >"$work/$3.Caddyfile"
	XDG_DATA_HOME=$work/$3-data XDG_CONFIG_HOME=$work/$3-config "${caddy_cpu[@]}" "$1" run \
		--config "$work/$3.Caddyfile" --adapter caddyfile >"$work/$3.out" 2>&1 &
	pids+=("$!")
	wait_port "$2" "$work/$3.out"
}
# The upstream runs in a process of its own, so that every route, this
# binary's and the baseline's, proxies to another process alike.
start_caddy ./caddy "$up_port" upstream
admin_port=$(free_port)
start_caddy ./caddy "$port" caddy "$admin_port"
routes=(plain off bolt redis queued)
if [ -n "${BASELINE:-}" ]; then
	base_port=$(free_port)
	start_caddy "$BASELINE" "$base_port" baseline
	routes+=(base-off base-bolt base-redis)
	echo "== baseline: $BASELINE ($("$BASELINE" version | head -1))"
fi

results=$work/results
queue_depth() { # the queued route's caddy_paynotify_queue_depth, from the admin endpoint's metrics
	curl -fsS "http://127.0.0.1:$admin_port/metrics" |
		sed -n "s/^caddy_paynotify_queue_depth{provider=\"$provider\"} //p"
}
queued_since() { # queued_since <unix time>: events queued and delivered since then, by Caddy's log: <queued> <delivered> <first ACK> <last delivery>
	awk -v since="$1" '
	function ts(line) { return match(line, /"ts":[0-9.]+/) ? substr(line, RSTART + 5, RLENGTH - 5) + 0 : 0 }
	/"msg":"notification"/ && /"outcome":"queued"/ {
		t = ts($0)
		if (t >= since) { q++; if (first == 0 || t < first) first = t }
	}
	/"msg":"delivery"/ && /"result":"delivered"/ {
		t = ts($0)
		if (t >= since) { d++; if (t > last) last = t }
	}
	END { printf "%d %d %.6f %.6f\n", q, d, first, last }' "$work/caddy.log"
}
drain() { # drain <run start> <wrk end>: waits until every event the queued route queued since the start was delivered; prints the figures
	local depth q=0 d=0 first last deadline=$((SECONDS + 600))
	while :; do
		depth=$(queue_depth)
		if [ "$depth" = 0 ]; then
			read -r q d first last < <(queued_since "$1")
			[ "$d" -ge "$q" ] && break
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "the queued route did not deliver its run's events within 600 s (depth ${depth:-unknown}, queued $q, delivered $d)" >&2
			return 1
		fi
		sleep 0.1
	done
	awk -v q="$q" -v d="$d" -v first="$first" -v last="$last" -v end="$2" 'BEGIN {
		printf "queued=%d delivered=%d delivered_rps=%.1f drain=%.2f\n", q, d, d / (last - first), (last > end) ? last - end : 0
	}'
}
run() { # run <route> <phase> <connections> <duration> <first line> <lines>
	local out extra="" start
	local at=$port path=/$1
	if [[ $1 == base-* ]]; then
		at=$base_port path=/${1#base-}
	fi
	start=$(date +%s.%N)
	out=$("${load_cpu[@]}" wrk -t1 -c"$3" -d"$4" --timeout 10s -s bench/load.lua "http://127.0.0.1:$at" \
		-- "$work/notifications" "$5" "$6" 1 "$path" | grep '^RESULT') || {
		echo "wrk failed on /$1" >&2
		exit 1
	}
	if [ "$1" = queued ]; then
		# Drained before the next run, which would otherwise share the CPU
		# with the deliveries.
		extra=" $(drain "$start" "$(date +%s.%N)")" || exit 1
	fi
	echo "$1 $2 ${out#RESULT }$extra" | tee -a "$results"
}

if [ -n "${PROFILE:-}" ]; then
	# PROFILE=<route>: a CPU profile of Caddy while wrk drives that route
	# with CONNS connections for DURATION, instead of the rounds; its top
	# entries are printed (the profile is kept as PROFILE_OUT, default
	# bench-<route>.pprof).
	[[ " ${routes[*]} " == *" $PROFILE "* && $PROFILE != base-* ]] || { echo "PROFILE: no route $PROFILE" >&2; exit 1; }
	run "$PROFILE" warmup 4 2s 0 $((2 * lat_per_run)) >/dev/null
	secs=${duration%s}
	out=${PROFILE_OUT:-bench-$PROFILE.pprof}
	curl -fsS -o "$out" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$((secs - 1))" &
	curl_pid=$!
	run "$PROFILE" throughput "$conns" "$duration" $((2 * lat_per_run)) "$per_run"
	wait "$curl_pid"
	echo "== profile of /$PROFILE: $out"
	go tool pprof -top -nodecount="${PROFILE_TOP:-40}" ./caddy "$out" 2>/dev/null | sed -n '4,$p'
	echo "== cumulative"
	go tool pprof -top -cum -nodecount="${PROFILE_TOP:-40}" ./caddy "$out" 2>/dev/null | sed -n '6,$p'
	exit 0
fi

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
if grep '^queued ' "$results" | awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
	f["delivered"] != f["queued"] || f["queued"] < f["requests"] { print; bad = 1 } END { exit !bad }' >&2; then
	echo "a queued run's events were not each delivered once (delivered != queued, or fewer queued than acknowledged)" >&2
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
echo "Medians of $rounds rounds, $provider, $(nproc) CPUs$([ ${#caddy_cpu[@]} -gt 0 ] && echo ", Caddy pinned to one"), deliver queued with concurrency ${queue_concurrency:-4 (default)}:"
echo
echo "| route | req/s ($conns conns) | × plain | p50 | p99 | p50 (1 conn) | p99 (1 conn) | added p99 (1 conn) | delivered/s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
plain_rps=$(median plain throughput rps)
plain_p99=$(median plain latency p99)
for route in "${routes[@]}"; do
	rps=$(median "$route" throughput rps)
	delivered=$rps # direct: the ACK follows the app's answer
	[ "$route" = queued ] && delivered=$(median queued throughput delivered_rps)
	awk -v r="$route" -v rps="$rps" -v base="$plain_rps" -v p50="$(median "$route" throughput p50)" \
		-v p99="$(median "$route" throughput p99)" -v l50="$(median "$route" latency p50)" \
		-v l99="$(median "$route" latency p99)" -v b99="$plain_p99" -v delivered="$delivered" 'BEGIN {
		name = (r == "plain") ? "plain reverse_proxy" : "paynotify, dedup " r
		if (r == "queued") name = "paynotify, dedup bolt, deliver queued (ACK)"
		if (r ~ /^base-/) name = "baseline paynotify, dedup " substr(r, 6)
		printf "| %s | %.0f | %.2f | %.2f ms | %.2f ms | %.3f ms | %.3f ms | %+.3f ms | %.0f |\n",
			name, rps, rps / base, p50 / 1000, p99 / 1000, l50 / 1000, l99 / 1000, (l99 - b99) / 1000, delivered
	}'
done
echo
awk -v a50="$(median queued throughput p50)" -v a99="$(median queued throughput p99)" \
	-v b50="$(median bolt throughput p50)" -v b99="$(median bolt throughput p99)" \
	-v l50="$(median queued latency p50)" -v l99="$(median queued latency p99)" \
	-v m50="$(median bolt latency p50)" -v m99="$(median bolt latency p99)" \
	-v acks="$(median queued throughput rps)" -v direct="$(median bolt throughput rps)" \
	-v delivered="$(median queued throughput delivered_rps)" -v drain="$(median queued throughput drain)" -v conns="$conns" 'BEGIN {
	printf "Queued beside direct (both dedup bolt), same run: ACK p50 ×%.2f, p99 ×%.2f with %d connections, ", a50 / b50, a99 / b99, conns
	printf "p50 ×%.2f, p99 ×%.2f with 1; ACKs/s ×%.2f; delivered to the app/s ×%.2f ", l50 / m50, l99 / m99, acks / direct, delivered / direct
	printf "(%.0f/s from the first ACK to the last delivery, the last %.2f s after wrk ended, beside %.0f/s direct).\n", delivered, drain, direct
}'
