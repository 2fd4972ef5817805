package redisrl

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client defaults set by NewClient where the URL sets nothing. Rate limiting
// sits in front of every request, so a slow Redis must fail fast and let the
// middleware apply its FailMode rather than hold requests: a command that got
// no answer gives up after ReadTimeout and is tried once more on a fresh
// connection, so a stalled Redis costs a call about 2×DefaultReadTimeout plus
// a short backoff (0.55 s measured), one that drops packets about
// 2×DefaultDialTimeout, and one that refuses connections a few
// milliseconds. Redis on the same network answers in well under a
// millisecond, so these leave two orders of magnitude of headroom.
const (
	// DefaultDialTimeout bounds one attempt to connect (TCP and TLS).
	DefaultDialTimeout = 300 * time.Millisecond
	// DefaultReadTimeout bounds the wait for one reply.
	DefaultReadTimeout = 250 * time.Millisecond
	// DefaultWriteTimeout bounds writing one command.
	DefaultWriteTimeout = 250 * time.Millisecond
	// DefaultPoolTimeout bounds the wait for a free connection when all
	// PoolSize connections are busy: a saturated pool means Redis is slow.
	DefaultPoolTimeout = 250 * time.Millisecond
	// DefaultMaxRetries is one retry after a network error (a connection
	// the server closed while idle), not go-redis' three.
	DefaultMaxRetries = 1
	// DefaultClientName names the connections in CLIENT LIST.
	DefaultClientName = "repairxctl"
)

// NewClient returns a client of the Redis at rawURL, a redis:// or rediss://
// (TLS) URL such as redis://:PASSWORD@host:6379/0, with the Default*
// settings above wherever the URL does not set them (go-redis reads
// dial_timeout, read_timeout, write_timeout, pool_size, pool_timeout,
// max_retries, min_idle_conns and client_name from the query string). The
// pool keeps go-redis' default of 10 connections per GOMAXPROCS and no idle
// minimum, so NewClient does no I/O: connections are made on first use (the
// readiness check's Ping makes the first). Errors name a malformed URL
// without repeating it, since it may hold a password.
//
// Cancelling a call's context abandons its command (ContextTimeoutEnabled).
func NewClient(rawURL string) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("redis URL: %w (want redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://…)", err)
	}
	if opts.Network != "tcp" {
		return nil, errors.New("redis URL: want a redis:// or rediss:// URL")
	}
	setDefault(&opts.DialTimeout, DefaultDialTimeout)
	setDefault(&opts.ReadTimeout, DefaultReadTimeout)
	setDefault(&opts.WriteTimeout, DefaultWriteTimeout)
	setDefault(&opts.PoolTimeout, DefaultPoolTimeout)
	setDefault(&opts.MaxRetries, DefaultMaxRetries)
	setDefault(&opts.ClientName, DefaultClientName)
	// One dial attempt per connection: go-redis' default of five attempts
	// 100ms apart would make an unreachable Redis cost each request seconds.
	setDefault(&opts.DialerRetries, 1)
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
