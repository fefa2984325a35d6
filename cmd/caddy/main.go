// Command caddy is Caddy with its standard modules and paynotify: what
// xcaddy would build, for machines without xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/paynotify/paynotify"
)

func main() {
	caddycmd.Main()
}
