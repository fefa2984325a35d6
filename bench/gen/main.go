// Command gen writes correctly signed notifications for bench/load.sh, one
// per line, each a distinct event: method, query, headers (name: value,
// separated by |) and body, separated by tabs.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/paynotify/paynotify/internal/simulator"
	"github.com/paynotify/paynotify/verifiers"
)

func main() {
	provider := flag.String("provider", "octo3", "provider")
	secret := flag.String("secret", "bench-secret", "the provider secret")
	n := flag.Int("n", 100000, "notifications to write")
	prefix := flag.String("prefix", "BENCH", "order id prefix; distinct per file")
	out := flag.String("out", "", "output file")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	now := time.Now()
	p, err := verifiers.LookupProvider(*provider)
	if err != nil {
		log.Fatal(err)
	}
	example, ok := p.(verifiers.Signer)
	if !ok {
		log.Fatalf("provider %s has no test signer", *provider)
	}
	for i := range *n {
		order := fmt.Sprintf("%s-%08d", *prefix, i)
		fields := example.Example(order, now)
		m, err := simulator.Sign(simulator.Draft{Provider: *provider, Fields: fields, Authorization: "bench-authorization",
			Key: "bench-key"}, *secret, "")
		if err != nil {
			log.Fatal(err)
		}
		var headers []string
		for name := range m.Header {
			headers = append(headers, name+": "+m.Header.Get(name))
		}
		_, query, _ := strings.Cut(m.Path, "?")
		if strings.ContainsAny(string(m.Body)+query+strings.Join(headers, ""), "\t\n") {
			log.Fatalf("notification %d has a tab or newline", i)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.Method, query, strings.Join(headers, "|"), m.Body)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
