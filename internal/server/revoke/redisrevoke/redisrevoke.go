// Package redisrevoke keeps the revoked-session set (revoke.List) in Redis,
// so that a logout or a refresh-token reuse seen by one `serve` node ends the
// session on every node sharing that Redis. It passes the conformance suite
// of package revoketest, like revoke.Memory.
//
// Each revoked session is one string key, PREFIX r:SESSION, holding the end
// of its revocation in Unix milliseconds. Revoked compares that value with
// the caller's now, never Redis' clock, so every node (and every test's fake
// clock) decides expiry alike. The key's expiry is only garbage collection:
// it is set with PXAT to SkewAllowance after the revocation ends by Redis'
// clock (or after Redis' now, if that end has already passed there), so a
// node whose clock lags Redis' by less than SkewAllowance never sees a
// revocation vanish before its own now reaches the end. Revoke is a small
// Lua script, so "keep the later of two revocations" is atomic across nodes.
//
// Times are kept in milliseconds: until is rounded up, now truncated, so a
// revocation never ends early. Use a client built by redisrl.NewClient, whose
// short timeouts make a Redis outage an error within a second, never a hang.
package redisrevoke

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/repairx/repairxctl/internal/server/revoke"
)

// SkewAllowance is how much a node's clock may lag Redis' before it can see
// a revocation expire early; it also keeps an already-ended revocation that
// long, which costs a key per session revoked in the last minutes.
const SkewAllowance = 5 * time.Minute

//go:embed revoke.lua
var revokeSource string

var revokeScript = redis.NewScript(revokeSource)

// List is a revoke.List on Redis, safe for concurrent use. Lists on several
// nodes with the same Redis and prefix share one set.
type List struct {
	client redis.UniversalClient
	prefix string
}

var _ revoke.List = (*List)(nil)

// New returns a List keeping its keys under prefix + "r:" in the Redis that
// client talks to.
func New(client redis.UniversalClient, prefix string) *List {
	return &List{client: client, prefix: prefix + "r:"}
}

// Ping checks that Redis answers, for readiness checks.
func (l *List) Ping(ctx context.Context) error {
	if err := l.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis revocation list: ping: %w", err)
	}
	return nil
}

// Revoke implements revoke.List.
func (l *List) Revoke(ctx context.Context, session string, until time.Time) error {
	err := revokeScript.Run(ctx, l.client, []string{l.prefix + session},
		ceilMillis(until), int64(SkewAllowance/time.Millisecond)).Err()
	if err != nil {
		return fmt.Errorf("redis revocation list: revoke: %w", err)
	}
	return nil
}

// Revoked implements revoke.List with one GET.
func (l *List) Revoked(ctx context.Context, session string, now time.Time) (bool, error) {
	v, err := l.client.Get(ctx, l.prefix+session).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis revocation list: check: %w", err)
	}
	until, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fmt.Errorf("redis revocation list: check: stored end %q is not Unix milliseconds", v)
	}
	return until > now.UnixMilli(), nil
}

// ceilMillis is t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}
