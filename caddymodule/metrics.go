package caddymodule

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outcomes lists every outcome, one per row of the status table; each
// handler starts its counters at zero so that alerts see them before the
// first failure.
var outcomes = []string{
	outcomeDelivered, outcomeDuplicate, outcomeInFlight, outcomeUpstreamFailed, outcomeInvalidSignature,
	outcomeForbiddenSource, outcomeMalformed, outcomeTooLarge, outcomeBadMethod, outcomeBodyTimeout, outcomeStoreUnavailable,
	outcomeInquiryFailed,
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
