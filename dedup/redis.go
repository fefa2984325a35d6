package dedup

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the store for several Caddy nodes behind one load balancer: they
// claim and mark events in one Redis, so that each event is delivered once
// between them. A claim is SET NX with the lease as its expiry; a delivered
// marker is a SET with the dedup window as its expiry.
type Redis struct {
	client *redis.Client
	prefix string
}

// The values of a key.
const (
	redisClaim     = "c:" // followed by the token
	redisDelivered = "d"
)

// releaseScript deletes the key only while it holds the caller's claim.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// OpenRedis returns the store for the Redis at url
// (redis://[user:password@]host:port/db, rediss:// for TLS). It connects
// lazily: a Redis that is down now makes the calls fail with ErrUnavailable
// until it is back; Ping tells whether it answers.
func OpenRedis(url string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url %s: %v", redactedURL(url), redactURLError(err, url))
	}
	// A Redis that is down must turn into a 503 quickly, not hold the
	// provider's connection through go-redis' default retries.
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1 // go-redis would dial 5 times, 100 ms apart
	}
	return &Redis{client: redis.NewClient(opts), prefix: "paynotify:dedup:"}, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis at %s: %v", ErrUnavailable, r.client.Options().Addr, err)
	}
	return nil
}

// Claim implements Store.
func (r *Redis) Claim(ctx context.Context, key string, lease time.Duration) (State, string, error) {
	token := newToken()
	k := r.prefix + key
	for range 3 { // a key that expires between SET NX and GET is claimed again
		ok, err := r.client.SetNX(ctx, k, redisClaim+token, lease).Result()
		if err != nil {
			return 0, "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if ok {
			return Claimed, token, nil
		}
		value, err := r.client.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			return 0, "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		case value == redisDelivered:
			return Delivered, "", nil
		case value == redisClaim+token:
			// Our own SET NX went through but its reply was lost, and
			// go-redis' retry of it found the key taken: it is ours.
			return Claimed, token, nil
		case strings.HasPrefix(value, redisClaim):
			return InFlight, "", nil
		default:
			return 0, "", fmt.Errorf("%w: unexpected value at %s", ErrUnavailable, k)
		}
	}
	return InFlight, "", nil
}

// Deliver implements Store. The marker is written even if the claim expired
// meanwhile: the app did accept the event.
func (r *Redis) Deliver(ctx context.Context, key, _ string, window time.Duration) error {
	if err := r.client.Set(ctx, r.prefix+key, redisDelivered, window).Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Release implements Store.
func (r *Redis) Release(ctx context.Context, key, token string) error {
	if err := releaseScript.Run(ctx, r.client, []string{r.prefix + key}, redisClaim+token).Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Close implements Store.
func (r *Redis) Close() error { return r.client.Close() }

// redactedURL is url with its password, if any, replaced by "xxxxx".
func redactedURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// redactURLError keeps the URL's user information out of an error message.
func redactURLError(err error, raw string) string {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		err = ue.Err // net/url quotes the whole URL, password included
	}
	msg := err.Error()
	if u, perr := neturl.Parse(raw); perr == nil && u.User != nil {
		for _, secret := range []string{u.User.String(), u.User.Username()} {
			if secret != "" {
				msg = strings.ReplaceAll(msg, secret, "xxxxx")
			}
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
			msg = strings.ReplaceAll(msg, neturl.QueryEscape(pw), "xxxxx")
		}
	}
	return msg
}

// Durability returns the Redis settings that decide whether what was
// written survives a restart (appendonly, appendfsync) and whether Redis
// may drop keys when it is full (maxmemory-policy), as CONFIG GET reports
// them. Managed Redis services often refuse CONFIG: that is an error.
func (r *Redis) Durability(ctx context.Context) (map[string]string, error) {
	settings := map[string]string{}
	for _, name := range []string{"appendonly", "appendfsync", "maxmemory-policy"} {
		values, err := r.client.ConfigGet(ctx, name).Result()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		settings[name] = values[name]
	}
	return settings, nil
}
