package verifiers

import "fmt"

// MaxBatchItems is the most events one notification of a batch provider
// (adyen's notificationItems, gocardless' events) may carry. GoCardless
// sends up to 250 events per request and Adyen fewer; twice GoCardless'
// figure leaves room for a provider that raises its own, while a body of
// thousands of items, each claimed in the dedup store and forwarded on its
// own within one request, is refused.
const MaxBatchItems = 500

// checkBatchSize refuses a batch of n items named what: an empty batch has
// nothing to deliver (and nothing to acknowledge), an oversized one is
// refused whole.
func checkBatchSize(what string, n int) error {
	switch {
	case n == 0:
		return fmt.Errorf("%w: %s is missing or empty", ErrMalformed, what)
	case n > MaxBatchItems:
		return fmt.Errorf("%w: %s holds %d items, over the limit of %d", ErrMalformed, what, n, MaxBatchItems)
	}
	return nil
}
