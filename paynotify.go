// Package paynotify adds the paynotify handler and the `caddy paynotify`
// command to Caddy. Build Caddy with it:
//
//	xcaddy build --with github.com/paynotify/paynotify
//
// or import it for its side effect, as cmd/caddy does. The handler and the
// command live in package caddymodule, the verifiers in package verifiers.
package paynotify

import _ "github.com/paynotify/paynotify/caddymodule" // registers http.handlers.paynotify and caddy paynotify
