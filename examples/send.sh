#!/usr/bin/env bash
# Sends one correctly signed test notification to the running
# Caddyfile.example and prints the reply, e.g. "ACK (HTTP 200)".
#
#   examples/send.sh <provider> [--tamper]
#
# provider: octo3, thedao, checkout, octopus or oobit. --tamper changes the
# amount after signing: paynotify must answer 401 and the app get nothing.
# The exit status is 0 only when the reply is the provider's ACK (octo3,
# thedao: 200 "ACK"; checkout: an empty 200; octopus: 200 "success"; oobit:
# 200 "OK"), 1 for any other reply (so 1 for --tamper when paynotify does
# its job), 2 for a usage error, and curl's status when nothing answered.
# The secrets default to the demo values of Caddyfile.example; SECRET (and
# AUTHORIZATION for checkout, KEY for octopus) override them, BASE_URL
# (default http://localhost:8080) the address, ACK the expected ACK body (for
# a directive that sets `ack`). ORDER fixes the order id (and the ids derived
# from it), so that the same event can be sent again, as a provider's retry
# would. Needs curl and openssl.
set -euo pipefail
usage() {
	echo "usage: examples/send.sh <octo3|thedao|checkout|octopus|oobit> [--tamper]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
provider=$1
shift
tamper=""
for arg in "$@"; do
	case $arg in
	--tamper) tamper=--tamper ;;
	-h | --help)
		echo "usage: examples/send.sh <octo3|thedao|checkout|octopus|oobit> [--tamper]"
		exit 0
		;;
	*)
		echo "examples/send.sh: unknown argument '$arg'" >&2
		usage
		;;
	esac
done
case $provider in
octo3 | thedao) ack=ACK ;;
checkout) ack="" ;;
octopus) ack=success ;;
oobit) ack=OK ;;
-h | --help)
	echo "usage: examples/send.sh <octo3|thedao|checkout|octopus|oobit> [--tamper]"
	exit 0
	;;
*)
	echo "examples/send.sh: unknown provider '$provider' (octo3, thedao, checkout, octopus, oobit)" >&2
	usage
	;;
esac
ack=${ACK-$ack}
base=${BASE_URL:-http://localhost:8080}
url="$base/notify/$provider"
now=$(date -u +%s)
order=${ORDER:-ORD-$now-$RANDOM}
ref=${order//[^A-Za-z0-9]/} # the order id as a base for other ids

hmac_hex() { openssl dgst "-$1" -hmac "$2" | sed 's/^.*= //'; } # stdin: the message
# reply <curl arguments>: sends, prints the reply as "<body> (HTTP <status>)",
# and fails unless it is the provider's ACK.
reply() {
	local out status=0
	out=$(curl -sS -w ' (HTTP %{http_code})' "$@") || status=$?
	printf '%s\n' "$out"
	[ $status -eq 0 ] || exit $status
	[ "$out" = "$ack (HTTP 200)" ] || exit 1
}

case $provider in
octo3 | thedao)
	secret=${SECRET:-$provider-demo-secret}
	declare -A f=(
		[version]=2.0 [action]=PAY [merch_order_id]="$order" [merch_id]=M100200 [term_id]=T01
		[currency]=HKD [txn_time]="$(date -u '+%Y-%m-%d %H:%M:%S')" [txn_status]=ACCEPTED
		[txn_response_code]=00 [dr_count]=1 [txn_no]="TXN$ref" [captured_amount]=12.50
		[pay_type]=VISA [txn_message]=Approved
	)
	# secure_hash: HMAC-SHA1 over the values of the non-empty fields, in the
	# order of their lower-cased names, concatenated without a separator.
	signed=""
	for name in $(for n in "${!f[@]}"; do printf '%s\t%s\n' "${n,,}" "$n"; done | LC_ALL=C sort | cut -f2); do
		signed+="${f[$name]}"
	done
	f[secure_hash]=$(printf '%s' "$signed" | hmac_hex sha1 "$secret")
	[ "$tamper" = --tamper ] && f[captured_amount]=99999.00
	args=()
	for name in "${!f[@]}"; do
		args+=(--data-urlencode "$name=${f[$name]}")
	done
	reply "${args[@]}" "$url"
	;;
checkout)
	secret=${SECRET:-checkout-demo-key}
	authorization=${AUTHORIZATION:-checkout-demo-authorization}
	body='{"id":"evt_'$ref'","type":"payment_captured","created_on":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","data":{"id":"pay_'$ref'","reference":"'$order'","amount":1050,"currency":"HKD","response_code":"10000","response_summary":"Approved","source":{"type":"octopus"}}}'
	# Cko-Signature: HMAC-SHA256 of the raw body.
	signature=$(printf '%s' "$body" | hmac_hex sha256 "$secret")
	[ "$tamper" = --tamper ] && body=${body/\"amount\":1050/\"amount\":9999999}
	reply -H 'Content-Type: application/json' -H "Cko-Signature: $signature" \
		-H "Authorization: $authorization" --data-binary "$body" "$url"
	;;
octopus)
	secret=${SECRET:-octopus-demo-secret}
	key=${KEY:-octopus-demo-key}
	amount=99.50
	declare -A f=(
		[transaction_type]='"income"' [merchant_uid]='"MUID-7781"' [amount]='"100.00"'
		[final_amount]=$amount [currency]='"php"' [merchant_order_id]="\"$order\""
		[payment_status]='"completed"' [order_uid]="\"OUID-$ref\""
	)
	# OC-Signature: HMAC-SHA256 over the fields sorted by key, as k=v joined
	# by &: a string as its content, a number as its JSON text.
	signed="" body=""
	for name in $(printf '%s\n' "${!f[@]}" | LC_ALL=C sort); do
		value=${f[$name]}
		signed+="${signed:+&}$name=${value//\"/}"
		body+="${body:+,}\"$name\":$value"
	done
	signature=$(printf '%s' "$signed" | hmac_hex sha256 "$secret")
	if [ "$tamper" = --tamper ]; then
		body=${body/\"final_amount\":$amount/\"final_amount\":9999.50}
	fi
	body="{$body}"
	reply -H 'Content-Type: application/json' -H "OC-Signature: $signature" -H "OC-Key: $key" \
		--data-binary "$body" "$url"
	;;
oobit)
	secret=${SECRET:-oobit-demo-hash-key}
	trans_id=${ref//[^0-9]/}0 amount=7.23
	# signature: base64 of the SHA-256 of trans_id, trans_order, reply_code,
	# trans_amount, trans_currency and the hash key, concatenated.
	signature=$(printf '%s' "$trans_id${order}000${amount}USD$secret" | openssl dgst -sha256 -binary | base64)
	[ "$tamper" = --tamper ] && amount=723.00
	reply -G --data-urlencode reply_code=000 --data-urlencode reply_desc=SUCCESS \
		--data-urlencode "trans_id=$trans_id" --data-urlencode "trans_order=$order" \
		--data-urlencode "trans_amount=$amount" --data-urlencode trans_currency=USD \
		--data-urlencode "trans_date=$(date -u '+%d/%m/%Y %H:%M:%S')" \
		--data-urlencode "signature=$signature" "$url"
	;;
esac
