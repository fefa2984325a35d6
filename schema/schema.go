// Package schema holds the JSON Schema (draft 2020-12) of the paynotify.v1
// event that paynotify forwards in normalized mode. `caddy paynotify schema`
// prints it.
package schema

import _ "embed"

// V1 is the JSON Schema of paynotify.v1.
//
//go:embed paynotify.v1.schema.json
var V1 []byte
