#!/usr/bin/env bash
# Sends one signed octo3 notification to the running Caddyfile.example and
# prints the reply: "ACK (HTTP 200)" when the app accepted it.
#
#   examples/send-octo3.sh            a correctly signed notification
#   examples/send-octo3.sh --tamper   the same with the amount changed after signing (401)
#
# OCTO3_SECRET (default octo3-demo-secret, as in Caddyfile.example) and
# URL (default http://localhost:8080/notify/octo3) can be set in the environment.
set -euo pipefail
secret=${OCTO3_SECRET:-octo3-demo-secret}
url=${URL:-http://localhost:8080/notify/octo3}
now=$(date -u +%s)

declare -A f=(
	[version]=2.0 [action]=PAY [merch_order_id]="ORD-$now" [merch_id]=M100200 [term_id]=T01
	[currency]=HKD [txn_time]="$(date -u '+%Y-%m-%d %H:%M:%S')" [txn_status]=ACCEPTED
	[txn_response_code]=00 [dr_count]=1 [txn_no]="TXN$now" [captured_amount]=12.50
	[pay_type]=VISA [txn_message]=Approved
)

# secure_hash: HMAC-SHA1 over the values of the non-empty fields, in the order
# of their lower-cased names, concatenated without a separator.
signed=""
for name in $(printf '%s\n' "${!f[@]}" | LC_ALL=C sort -f); do
	signed+="${f[$name]}"
done
f[secure_hash]=$(printf '%s' "$signed" | openssl dgst -sha1 -hmac "$secret" | sed 's/^.*= //')

if [ "${1:-}" = --tamper ]; then
	f[captured_amount]=99999.00
fi

args=()
for name in "${!f[@]}"; do
	args+=(--data-urlencode "$name=${f[$name]}")
done
curl -sS -w ' (HTTP %{http_code})\n' "${args[@]}" "$url"
