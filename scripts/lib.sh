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

# free_port prints a port nothing listens on.
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
	done
}

# wait_port waits up to 10 s for something to listen on port $1.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	exit 1
}
