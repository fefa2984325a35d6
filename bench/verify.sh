#!/usr/bin/env bash
# Verify's cost next to its crypto floor, per provider, as a Markdown table.
#
#   bench/verify.sh [extra go test flags]
#
# Runs the verifiers' benchmarks in one process (BenchmarkVerify, Notice and
# the crypto floors: see verifiers/bench_test.go), COUNT times (5), and
# prints the median of each: Verify's ns/op, B/op and allocs/op, the floor's
# ns/op, and their ratio. The floor of a keyed-hash provider is its bare HMAC
# (or hash) over the signed bytes: "naive" with a fresh hmac.New per
# notification, "prekeyed" with the keyed state reused; the target is
# Verify ≤ 5× the naive floor. The floor of a public-key provider (alipay,
# wechatpay, paypal) is the bare SHA256withRSA verify; the target is ≤ 1.5×.
# The inquiring providers' Verify benchmarks include the round trip to a
# loopback stand-in of the provider's API: their local half is the Notice
# row (mollie, paypal_ipn; paypal's Notice is its offline check), and
# paypal_ipn has no signature, so no floor.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-5}
out=$(go test ./verifiers -run '^$' -count "$count" -benchmem \
	-bench '^(BenchmarkVerify|BenchmarkCryptoFloor|BenchmarkPayPalVerify|BenchmarkPayPalCryptoFloor|BenchmarkNotice)$' "$@")
echo "$out" | grep -E '^(ok|FAIL|---)' >&2 || true

echo "$out" | awk -v count="$count" '
function median(key,   n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i + 1) == "ns/op") vals[name " ns"] = vals[name " ns"] " " $i
		if ($(i + 1) == "B/op") vals[name " B"] = vals[name " B"] " " $i
		if ($(i + 1) == "allocs/op") vals[name " allocs"] = vals[name " allocs"] " " $i
	}
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
END {
	printf "Medians of %d runs (ns/op); the ratios are Verify / floor.\n\n", count
	print "| provider | Verify | B/op | allocs/op | floor naive | floor prekeyed | × naive | × prekeyed | target | met |"
	print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	for (k = 1; k <= n; k++) {
		name = order[k]
		if (name ~ /^BenchmarkVerify\// || name ~ /^BenchmarkNotice\// || name == "BenchmarkPayPalVerify/paypal/notice") {
			p = name; sub(/^Benchmark(Verify|Notice|PayPalVerify)\//, "", p); sub(/\/notice$/, "", p)
			label = p
			if (name ~ /Notice/) label = p " (Notice)"
			if (name == "BenchmarkPayPalVerify/paypal/notice") label = "paypal (Notice, offline)"
			naive = median("BenchmarkCryptoFloor/" p "/naive ns")
			pre = median("BenchmarkCryptoFloor/" p "/prekeyed ns")
			if (p == "paypal") naive = median("BenchmarkPayPalCryptoFloor/paypal ns")
			rsa = (p == "alipay" || p == "wechatpay" || p == "paypal")
			inquiry = (p == "mollie" || p == "paypal_ipn") && name ~ /^BenchmarkVerify\//
			if (inquiry) label = p " (with the API round trip)"
			v = median(name " ns")
			line = sprintf("| %s | %.0f | %.0f | %.0f", label, v, median(name " B"), median(name " allocs"))
			if (naive == 0 || inquiry) { print line " | | | | | | |"; continue }
			target = rsa ? 1.5 : 5
			met = (v / naive <= target) ? "yes" : "no"
			if (rsa) printf "%s | %.0f | | %.2f | | %.1f | %s |\n", line, naive, v / naive, target, met
			else printf "%s | %.0f | %.0f | %.2f | %.2f | %.1f | %s |\n", line, naive, pre, v / naive, v / pre, target, met
		}
	}
}'
