-- wrk script for bench/load.sh: every request is a distinct, correctly
-- signed notification read from the file bench/gen wrote.
--   wrk ... -s bench/load.lua <url> -- <file> <first line> <lines> <threads> <path>
-- Each thread takes every <threads>-th line of the slice. A thread that runs
-- out of lines starts over (a duplicate event); done() reports it.

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

function init(args)
	local file, first, count, nthreads = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
	local path = args[5]
	reqs = {}
	local i = 0
	for line in io.lines(file) do
		if i >= first + count then
			break
		end
		if i >= first and (i - first) % nthreads == tid then
			local method, query, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
			local h = {}
			for name, value in headers:gmatch("([^|:]+): ([^|]*)") do
				h[name] = value
			end
			local p = path
			if query ~= "" then
				p = path .. "?" .. query
			end
			reqs[#reqs + 1] = wrk.format(method, p, h, body)
		end
		i = i + 1
	end
	if #reqs == 0 then
		error("no notification in " .. file .. " from line " .. first)
	end
	n = 0
	wrapped = false
end

function request()
	n = n + 1
	if n > #reqs then
		n = 1
		wrapped = true
	end
	return reqs[n]
end

function done(summary, latency, requests)
	local wrapped = false
	for _, t in ipairs(threads) do
		if t:get("wrapped") then
			wrapped = true
		end
	end
	local e = summary.errors
	io.write(string.format("RESULT requests=%d rps=%.1f p50=%d p99=%d non2xx=%d socket_errors=%d wrapped=%s\n",
		summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
		e.status, e.connect + e.read + e.write + e.timeout, tostring(wrapped)))
end
