#!/usr/bin/env bash
# Builds ./caddy with the paynotify plugin.
#
#   ./xcaddy.sh          build ./caddy
#   ./xcaddy.sh run      build, then run Caddyfile.example (extra arguments go to `caddy run`)
#
# With xcaddy installed it builds through xcaddy at the Caddy version in
# go.mod; otherwise it builds ./cmd/caddy (Caddy's standard modules plus this
# plugin) with plain `go build`, which is equivalent.
set -euo pipefail
cd "$(dirname "$0")"

if command -v xcaddy >/dev/null 2>&1; then
	version=$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
	xcaddy build "$version" --output ./caddy --with github.com/paynotify/paynotify=.
else
	go build -trimpath -o ./caddy ./cmd/caddy
fi

if [ "${1:-}" = run ]; then
	shift
	exec ./caddy run --config Caddyfile.example --adapter caddyfile "$@"
fi
