// Command demoapp is a merchant app stand-in for test.sh: it prints the body
// of every request it receives on a line of its own, then answers 200 after
// -delay, like an app that takes its time to book a payment.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	delay := flag.Duration("delay", 0, "how long each request takes")
	flag.Parse()
	var mu sync.Mutex
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		os.Stdout.Write(append(body, '\n'))
		mu.Unlock()
		time.Sleep(*delay)
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
