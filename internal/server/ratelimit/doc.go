// Package ratelimit is the traffic protection of `serve`: per-client and
// per-user rate limits in tiers, automatic blocking of clients that keep
// exceeding them, and the net/http middleware that applies both.
//
// # Backends
//
// State lives behind two interfaces, Limiter and Blocker, so that the
// embedded backends here (MemoryLimiter, MemoryBlocker) and the Redis ones of
// several-node deployments are interchangeable; package ratelimittest is the
// conformance suite every backend passes. Backends take the time from the
// caller (the now arguments), which keeps tests instant and lets a Redis
// script use the node's clock; nodes sharing Redis need synchronised clocks
// (NTP), and a skew of s shifts a client's schedule by at most s.
//
// # Algorithm
//
// Limits use GCRA, the generic cell rate algorithm, as
// github.com/go-redis/redis_rate does, so memory and Redis answer alike. For a
// Limit of Rate per Period with Burst, the emission interval is
// T = Period/Rate and the only state per key is its theoretical arrival time
// TAT (initially now). A request at now is allowed when
//
//	max(TAT, now) + T - Burst×T <= now
//
// and then sets TAT = max(TAT, now) + T. A denied request changes nothing.
// Remaining is floor((now - (TAT - Burst×T)) / T), RetryAfter the time until
// the inequality would hold, ResetAfter = TAT - now, after which the key is
// indistinguishable from a new one and is dropped. One int64 per key, no
// window boundary where a client can double up, and the same arithmetic in a
// 20-line Lua script.
//
// # Tiers and classes
//
// A Policy has four tiers: Global (every request but ClassUnlimited), API
// (ClassAPI), Auth (ClassAuth) per client key, and User per authenticated
// user. A request is checked against each tier that applies, and the most
// restrictive result is reported: any refusal over an allowance, the longest
// RetryAfter among refusals, otherwise the fewest Remaining. Tiers that
// allowed the request still count it when another refuses it. The client key
// is the client IP, or its IPv6 /64 by default (Policy.IPv6PrefixLen).
//
// # Blocking
//
// Every refusal is a violation of the client key; Policy.Block.Threshold
// consecutive ones (5 by default, with no allowed request between them and
// each less than Window after the one before) block the key for Duration
// (1 hour): 403 for every request, including the one that placed the block.
// An allowed request resets the count.
//
// # The middleware
//
// Middleware(Config) returns func(http.Handler) http.Handler. For each request:
//
//  1. Resolve the client IP (X-Forwarded-For only from trusted proxies, see
//     package clientip). Allow-listed addresses skip everything below.
//  2. A blocked client key gets 403.
//  3. Check the per-client tiers of the request's class; if they allow it and
//     Config.UserID names a user, check the user tier.
//  4. Allowed: the RateLimit fields of the most restrictive tier are added and
//     the request goes on. Refused: 429 with Retry-After and the RateLimit
//     fields, OnViolation is called; the violation that reaches the threshold
//     answers 403 instead and calls OnBlock.
//
// When the backend (or the client address) fails, the class's FailMode
// decides: FailOpen passes the request on unchecked, FailClosed answers 503
// with Retry-After: 5. DefaultPolicy fails closed for ClassAuth only.
//
// # Response fields
//
// The fields follow draft-ietf-httpapi-ratelimit-headers-06 (December 2022),
// the last draft with separate fields (-07 onwards merged them into
// RateLimit and RateLimit-Policy structured fields):
//
//	RateLimit-Limit: 60         the tier's Burst, the most requests at once
//	RateLimit-Remaining: 59     requests left right now
//	RateLimit-Reset: 1          seconds until the quota is whole again (ResetAfter, rounded up)
//	RateLimit-Policy: 60;w=60   Rate;w=Period in seconds (;burst=N when Burst differs)
//	Retry-After: 1              on 429 only: seconds until a retry can pass, rounded up, at least 1
//
// They describe the most restrictive tier and are sent on every checked
// response, not on allow-listed or ClassUnlimited ones, nor on 403.
package ratelimit
