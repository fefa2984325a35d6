// Command slowbody opens connections that send a notification's headers,
// declaring a large body, and then one byte of it, and holds them: what a
// slow or hostile client costs the server. It prints the growth of the
// server's heap (go_memstats_heap_inuse_bytes on Caddy's admin /metrics)
// while they are held, and then how the server answered them.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "where to send, e.g. http://127.0.0.1:8080/octo3 (loopback only)")
	metrics := flag.String("metrics", "", "Caddy's admin metrics URL")
	conns := flag.Int("conns", 300, "connections")
	declared := flag.Int("declared", 4<<20, "the Content-Length each declares")
	hold := flag.Duration("hold", 3*time.Second, "how long to hold them before measuring")
	wait := flag.Duration("wait", 15*time.Second, "how long to wait for the server's answers after measuring")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		log.Fatal("-url: a URL such as http://127.0.0.1:8080/octo3")
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		log.Fatal("-url: loopback addresses only")
	}

	before := heapInUse(*metrics)
	answers := make(chan string, *conns)
	var wg sync.WaitGroup
	held := make([]net.Conn, 0, *conns)
	for range *conns {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			log.Fatal(err)
		}
		held = append(held, c)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nv",
			u.RequestURI(), u.Host, *declared)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(*hold + *wait))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- "no answer"
				return
			}
			io.Copy(io.Discard, res.Body)
			answers <- strconv.Itoa(res.StatusCode)
		}()
	}
	time.Sleep(*hold)
	after := heapInUse(*metrics)
	fmt.Printf("RESULT conns=%d heap_before=%d heap_held=%d per_conn=%d\n", *conns, before, after, (after-before)/int64(*conns))
	wg.Wait()
	for _, c := range held {
		c.Close()
	}
	close(answers)
	count := map[string]int{}
	for a := range answers {
		count[a]++
	}
	fmt.Printf("ANSWERS %v\n", count)
}

// heapInUse reads go_memstats_heap_inuse_bytes, after a GC settles (the
// admin endpoint's metrics are read twice, a second apart).
func heapInUse(metrics string) int64 {
	var v int64
	for range 2 {
		time.Sleep(time.Second)
		res, err := http.Get(metrics)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				v = int64(f)
			}
		}
	}
	return v
}
