// `caddy paynotify queue`: the queued deliveries and dead letters of the
// running Caddy, read through its admin API, for a person at a terminal.

package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paynotify/paynotify/dedup"
)

type queueOptions struct {
	address, config, adapter string
	json                     bool
}

func queueCommand() *cobra.Command {
	o := &queueOptions{}
	cmd := &cobra.Command{
		Use:   "queue [--address <admin address>] [--json]",
		Short: "Shows the queued deliveries and the dead letters of the running Caddy",
		Long: `Shows, through the admin API of the running Caddy, each route with
deliver queued (its queue's depth, the deliveries in flight, the age of the
oldest event not yet delivered, its dead letters and the app's URL) and the
dead letters of their stores (id, queue, event id, when it died, attempts,
the last error). --json prints the admin API's answers as they are
(GET /paynotify/queue and GET /paynotify/dead).

  caddy paynotify queue retry <id>    queues the dead letter again
  caddy paynotify queue delete <id>   deletes the dead letter

The admin address is --address, or the admin address of the config given
with --config (and --adapter), or localhost:2019.`,
		Example: `  caddy paynotify queue
  caddy paynotify queue --address localhost:2019 --json
  caddy paynotify queue retry q0123456789abcdef01234567`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			return o.show(cmd.OutOrStdout())
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.address, "address", "", "the admin API's address (default: that of --config, else localhost:2019)")
	f.StringVarP(&o.config, "config", "c", "", "the config file the running Caddy was started with, to find its admin address")
	f.StringVarP(&o.adapter, "adapter", "a", "", "the name of the config adapter of --config")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the admin API's JSON answers")
	cmd.AddCommand(
		&cobra.Command{
			Use:   "retry <id>",
			Short: "Queues a dead letter again (a new retry_for period from now)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cmd.SilenceUsage = true
				return o.act(cmd.OutOrStdout(), http.MethodPost, args[0])
			},
		},
		&cobra.Command{
			Use:   "delete <id>",
			Short: "Deletes a dead letter",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cmd.SilenceUsage = true
				return o.act(cmd.OutOrStdout(), http.MethodDelete, args[0])
			},
		},
	)
	return cmd
}

// adminError is an answer of the admin API other than 2xx.
type adminError struct {
	status int
	body   []byte
	msg    string
}

func (e *adminError) Error() string { return e.msg }

// request sends method uri to the admin API and returns the answer's body.
func (o *queueOptions) request(method, uri string) ([]byte, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(o.address, nil, o.config, o.adapter)
	if err != nil {
		return nil, fmt.Errorf("finding the admin API's address: %v", err)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, nil)
	if err != nil {
		return nil, explainAdminError(addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the admin API's answer: %v", err)
	}
	return body, nil
}

// explainAdminError turns what caddycmd.AdminAPIRequest returns when the
// admin API cannot be reached or answers 4xx/5xx ("performing request: …",
// "caddy responded with error: HTTP <status>: <body>") into a message for
// a person, keeping the status and body of an answer.
func explainAdminError(addr string, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "performing request:") || strings.HasPrefix(msg, "invalid admin address") {
		return fmt.Errorf("the admin API at %s cannot be reached (is Caddy running, with that admin address? see --address): %v", addr, err)
	}
	_, answer, ok := strings.Cut(msg, "caddy responded with error: HTTP ")
	if !ok {
		return err
	}
	code, body, _ := strings.Cut(answer, ": ")
	status, convErr := strconv.Atoi(code)
	if convErr != nil {
		return err
	}
	e := &adminError{status: status, body: []byte(body)}
	var apiErr struct {
		Error string `json:"error"`
	}
	switch {
	case json.Unmarshal(e.body, &apiErr) == nil && apiErr.Error != "":
		e.msg = fmt.Sprintf("%s (HTTP %d)", apiErr.Error, status)
	case status == http.StatusNotFound:
		e.msg = fmt.Sprintf("the admin API at %s has no /paynotify/ endpoints (HTTP 404): is this caddy built with paynotify?", addr)
	default:
		e.msg = fmt.Sprintf("the admin API at %s answered HTTP %d: %s", addr, status, strings.TrimSpace(body))
	}
	return e
}

// act retries (POST) or deletes (DELETE) the dead letter id.
func (o *queueOptions) act(out io.Writer, method, id string) error {
	if !dedup.ValidItemID(id) {
		return fmt.Errorf("%q is not a dead letter id: q and 24 hex digits, as caddy paynotify queue lists them", id)
	}
	uri := "/paynotify/dead/" + url.PathEscape(id)
	if method == http.MethodPost {
		uri += "/retry"
	}
	body, err := o.request(method, uri)
	if err != nil {
		return err
	}
	if method == http.MethodDelete {
		_, err = fmt.Fprintf(out, "deleted dead letter %s\n", id)
		return err
	}
	var answer struct {
		Retried deadInfo `json:"retried"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("the admin API's answer is not what paynotify answers: %v", err)
	}
	r := answer.Retried
	_, err = fmt.Fprintf(out, "queued %s again: event %s of %s, after %d attempts (last error: %s)\n",
		r.ID, r.EventID, r.Queue, r.Attempts, r.LastError)
	return err
}

// show prints the queues and the dead letters. A store that cannot be read
// is printed with its reason and makes the exit status non-zero.
func (o *queueOptions) show(out io.Writer) error {
	var queues queueListing
	var dead deadListing
	rawQueues, err := o.listing("/paynotify/queue", &queues)
	if err != nil {
		return err
	}
	rawDead, err := o.listing("/paynotify/dead", &dead)
	if err != nil {
		return err
	}
	var unread []string
	for _, q := range queues.Queues {
		if q.Error != "" {
			unread = append(unread, fmt.Sprintf("queue %s (store %s): %s", q.Queue, q.Store, q.Error))
		}
	}
	for _, e := range dead.Errors {
		unread = append(unread, fmt.Sprintf("dead letters of store %s: %s", e.Store, e.Error))
	}
	if o.json {
		merged := map[string]json.RawMessage{}
		for _, raw := range [][]byte{rawQueues, rawDead} {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("the admin API's answer is not JSON: %v", err)
			}
			for k, v := range m {
				merged[k] = v
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(merged); err != nil {
			return err
		}
	} else if err := printQueues(out, queues, dead, time.Now()); err != nil {
		return err
	}
	if len(unread) > 0 {
		return fmt.Errorf("a store cannot be read:\n  %s", strings.Join(unread, "\n  "))
	}
	return nil
}

// listing GETs uri into v and returns the raw answer. A 503 that carries
// the listing (every store failed) is returned as the listing: its entries
// say why.
func (o *queueOptions) listing(uri string, v any) ([]byte, error) {
	body, err := o.request(http.MethodGet, uri)
	if ae, ok := errors.AsType[*adminError](err); ok && ae.status == http.StatusServiceUnavailable {
		var members map[string]json.RawMessage
		if json.Unmarshal(ae.body, &members) == nil {
			_, isQueues := members["queues"]
			_, isDead := members["dead"]
			if (isQueues || isDead) && json.Unmarshal(ae.body, v) == nil {
				return ae.body, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("the admin API's answer to GET %s is not what paynotify answers: %v", uri, err)
	}
	return body, nil
}

// printQueues prints the listings as two tables.
func printQueues(out io.Writer, queues queueListing, dead deadListing, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(queues.Queues) == 0 {
		fmt.Fprintln(tw, "No route of the running config delivers queued.")
	} else {
		fmt.Fprintln(tw, "PROVIDER\tQUEUE\tDEPTH\tIN FLIGHT\tOLDEST\tDEAD\tTO")
		for _, q := range queues.Queues {
			depth, inFlight, oldest, deadCount := strconv.Itoa(q.Depth), strconv.Itoa(q.InFlight), age(q.OldestSeconds, q.Depth), strconv.Itoa(q.Dead)
			if q.Error != "" {
				depth, inFlight, oldest, deadCount = "?", "?", "?", "?"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q.Provider, q.Queue, depth, inFlight, oldest, deadCount, q.To)
		}
	}
	fmt.Fprintln(tw)
	switch {
	case len(dead.Dead) == 0 && len(dead.Errors) > 0:
		fmt.Fprintln(tw, "No dead letters in the stores that could be read.")
	case len(dead.Dead) == 0:
		fmt.Fprintln(tw, "No dead letters.")
	default:
		fmt.Fprintln(tw, "DEAD LETTER\tQUEUE\tEVENT ID\tDIED\tATTEMPTS\tLAST ERROR")
		for _, d := range dead.Dead {
			died := d.Died.UTC().Format(time.RFC3339) + " (" + ago(now.Sub(d.Died)) + " ago)"
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Queue, d.EventID, died, d.Attempts, d.LastError)
		}
	}
	return tw.Flush()
}

// age is the age of a queue's oldest event, "-" when the queue is empty.
func age(seconds float64, depth int) string {
	if depth == 0 {
		return "-"
	}
	return ago(time.Duration(seconds * float64(time.Second)))
}

func ago(d time.Duration) string {
	if d < time.Second {
		return max(0, d).Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
