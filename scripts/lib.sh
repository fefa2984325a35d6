# Helpers for test.sh and bench/load.sh (sourced).

# make_work makes the scratch directory $work; the processes whose pids are
# added to the array pids are killed, and $work removed, on exit.
make_work() {
	work=$(mktemp -d)
	pids=()
	trap cleanup EXIT
}
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}

# free_port prints a port that no socket uses. It is below Linux's
# ephemeral range (32768-60999 by default): a port there may be the local
# port of an outgoing connection, and binding it then fails, as bench/load.sh
# once met ("nothing listens on port 36404"). Ports any socket holds, by
# /proc/net/tcp and tcp6, and ports something answers on are skipped.
free_port() {
	local port hex
	while :; do
		port=$((15000 + RANDOM % 17000))
		hex=$(printf '%04X' "$port")
		if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" { found = 1 } END { exit !found }'; then
			continue
		fi
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
	done
}

# wait_port waits up to 10 s for something to listen on port $1; if nothing
# does, it prints the end of the log $2 (when given) and exits.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	if [ -n "${2:-}" ]; then
		echo "--- the end of $2:" >&2
		tail -5 "$2" >&2 || true
	fi
	exit 1
}
