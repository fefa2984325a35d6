package caddymodule

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outcomes lists every outcome, one per row of the status table; each
// handler starts its counters at zero so that alerts see them before the
// first failure.
var outcomes = []string{
	outcomeDelivered, outcomeDuplicate, outcomeInFlight, outcomeUpstreamFailed, outcomeInvalidSignature,
	outcomeForbiddenSource, outcomeMalformed, outcomeTooLarge, outcomeBadMethod, outcomeBodyTimeout, outcomeStoreUnavailable,
	outcomeInquiryFailed, outcomeQueued,
}

// Latency buckets from 5 µs (a verification) to 60 s (the delivery deadline).
var durationBuckets = []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// metrics are one handler's series in Caddy's registry.
type metrics struct {
	notifications map[string]prometheus.Counter // by outcome
	verify        prometheus.Observer
	upstream      prometheus.Observer
	inquiry       prometheus.Observer
}

// newMetrics registers paynotify's collectors in reg, or takes the ones
// another handler of the same config registered, and returns the series of
// provider.
func newMetrics(reg prometheus.Registerer, provider string) (*metrics, error) {
	const namespace, subsystem = "caddy", "paynotify"
	notifications, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: subsystem, Name: "notifications_total",
		Help: "Notifications received, by provider and outcome.",
	}, []string{"provider", "outcome"}))
	if err != nil {
		return nil, err
	}
	// A duration histogram, and its series of provider.
	histogram := func(name, help string) (prometheus.Observer, error) {
		h, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: durationBuckets,
		}, []string{"provider"}))
		if err != nil {
			return nil, err
		}
		return h.WithLabelValues(provider), nil
	}
	verify, err := histogram("verify_duration_seconds", "Time to verify and normalize a notification whose body was read, by provider.")
	if err != nil {
		return nil, err
	}
	upstream, err := histogram("upstream_duration_seconds", "Time the app took to answer a forwarded notification, by provider.")
	if err != nil {
		return nil, err
	}
	inquiry, err := histogram("inquiry_duration_seconds", "Time the provider's API took to answer an inquiry about a notification, by provider.")
	if err != nil {
		return nil, err
	}
	m := &metrics{
		notifications: make(map[string]prometheus.Counter, len(outcomes)),
		verify:        verify,
		upstream:      upstream,
		inquiry:       inquiry,
	}
	for _, o := range outcomes {
		m.notifications[o] = notifications.WithLabelValues(provider, o)
	}
	return m, nil
}

// register registers c, or returns the collector of the same description
// that is already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		existing, ok := are.ExistingCollector.(C)
		if !ok {
			return c, err
		}
		return existing, nil
	}
	return c, err
}

func (m *metrics) count(outcome string) {
	if m != nil {
		m.notifications[outcome].Inc()
	}
}

func (m *metrics) observeVerify(d time.Duration) {
	if m != nil {
		m.verify.Observe(d.Seconds())
	}
}

func (m *metrics) observeUpstream(d time.Duration) {
	if m != nil {
		m.upstream.Observe(d.Seconds())
	}
}

func (m *metrics) observeInquiry(d time.Duration) {
	if m != nil {
		m.inquiry.Observe(d.Seconds())
	}
}

// queueMetrics are a queued route's series.
type queueMetrics struct {
	deliveries map[string]prometheus.Counter // by result
}

// newQueueMetrics registers the outbox's collectors in reg (or takes those
// registered already) and returns provider's delivery counters, each
// starting at zero.
func newQueueMetrics(reg prometheus.Registerer, provider string) (*queueMetrics, error) {
	deliveries, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "paynotify", Name: "deliveries_total",
		Help: "Attempts to deliver queued notifications to the app, by provider and result (delivered, retry, dead).",
	}, []string{"provider", "result"}))
	if err != nil {
		return nil, err
	}
	if _, err := register(reg, prometheus.Collector(queueCollector{})); err != nil {
		return nil, err
	}
	m := &queueMetrics{deliveries: map[string]prometheus.Counter{}}
	for _, result := range deliveryResults {
		m.deliveries[result] = deliveries.WithLabelValues(provider, result)
	}
	return m, nil
}

func (m *queueMetrics) count(result string) {
	if m != nil {
		m.deliveries[result].Inc()
	}
}

// queueCollector reports the queues of the running config, per provider
// (the sum of its routes' queues), read from the stores at each scrape.
type queueCollector struct{}

var (
	queueDepthDesc = prometheus.NewDesc("caddy_paynotify_queue_depth",
		"Queued notifications not yet delivered to the app (waiting or in flight), by provider.", []string{"provider"}, nil)
	queueOldestDesc = prometheus.NewDesc("caddy_paynotify_queue_oldest_seconds",
		"Age of the oldest queued notification not yet delivered, by provider; 0 when none waits.", []string{"provider"}, nil)
	queueDeadDesc = prometheus.NewDesc("caddy_paynotify_dead_letters",
		"Queued notifications whose retry_for ran out, kept until an operator retries or deletes them, by provider.", []string{"provider"}, nil)
)

// Describe implements prometheus.Collector.
func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
	ch <- queueDeadDesc
}

// Collect implements prometheus.Collector: every queue of the stores of
// the running config, those of its queued routes and any that an earlier
// config left items in (counted, so that they are not out of sight). A
// store that cannot be read is left out of the sums (the workers log why).
func (queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	type sums struct {
		depth, dead int
		oldest      time.Time
	}
	byProvider := map[string]*sums{}
	var order []string
	sum := func(provider string) *sums {
		s := byProvider[provider]
		if s == nil {
			s = &sums{}
			byProvider[provider] = s
			order = append(order, provider)
		}
		return s
	}
	queues := map[string]map[string]string{} // store key → queue name → provider
	for _, q := range running.routes() {
		sum(q.provider) // a queued route's series exist from the start
		if queues[q.storeKey] == nil {
			queues[q.storeKey] = map[string]string{}
		}
		queues[q.storeKey][q.name] = q.provider
	}
	stores := running.allStores()
	for key, store := range stores {
		if depths, err := store.Queues(ctx); err == nil {
			for name := range depths {
				if queues[key] == nil {
					queues[key] = map[string]string{}
				}
				if _, ok := queues[key][name]; !ok {
					provider, _, _ := strings.Cut(name, "/")
					queues[key][name] = provider
				}
			}
		}
	}
	for key, names := range queues {
		store := stores[key]
		if store == nil {
			continue
		}
		for name, provider := range names {
			st, err := store.Stats(ctx, name)
			if err != nil {
				continue
			}
			s := sum(provider)
			s.depth += st.Depth
			s.dead += st.Dead
			if !st.Oldest.IsZero() && (s.oldest.IsZero() || st.Oldest.Before(s.oldest)) {
				s.oldest = st.Oldest
			}
		}
	}
	now := time.Now()
	for _, provider := range order {
		s := byProvider[provider]
		oldest := 0.0
		if !s.oldest.IsZero() {
			oldest = max(0, now.Sub(s.oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.depth), provider)
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, oldest, provider)
		ch <- prometheus.MustNewConstMetric(queueDeadDesc, prometheus.GaugeValue, float64(s.dead), provider)
	}
}
