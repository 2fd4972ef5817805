// Package redisrl keeps rate limits, violation counts and blocks in Redis, so
// that every `serve` node sharing one Redis enforces one budget per client and
// one block list. Limiter and Blocker pass the same conformance suite
// (package ratelimittest) as the in-memory backends of package ratelimit, and
// answer exactly as they do when times and emission intervals are whole
// milliseconds (a test replays random schedules on both to show it).
//
// # Time
//
// Like every ratelimit backend, these take the time from the caller (the now
// arguments) and never read Redis' clock for a decision: the scripts receive
// now in Unix milliseconds and store absolute times, and a key's TTL
// (relative, on Redis' clock) only lets Redis forget state once it can no
// longer matter: it is the state's lifetime plus a slack (a second for TATs
// and counts, a minute for the block list), so state disappears later than
// now says, never earlier, even for a node whose clock lags a little. Nodes
// need synchronised clocks (NTP), as the ratelimit package says.
//
// Redis keeps milliseconds: now is truncated to the millisecond, and a
// Limit's emission interval Period/Rate, a block duration and a violation
// window are rounded up to whole milliseconds (never more lenient than
// configured). A limit such as 7/1m (8571.43 ms) therefore differs from the
// memory backend by under a millisecond per request.
//
// # Keys
//
// Every key starts with the prefix given to the constructor (for example
// "repairx:"); nodes that must share state use the same prefix, and a limiter,
// a blocker and a revocation list may share one:
//
//	PREFIX l:KEY     string, a limiter key's TAT in Unix ms; TTL ResetAfter + 1s
//	PREFIX v:CLIENT  hash {n: consecutive violations, e: latest + Window, Unix ms}; TTL Window + 1s
//	PREFIX blocks    sorted set, member CLIENT, score = block end in Unix ms
//
// (package redisrevoke uses PREFIX r:SESSION). On Redis Cluster a script's
// keys must share a hash slot: give a prefix with a hash tag, such as
// "{repairx}:", which places all of it on one shard. Configure the server
// with maxmemory-policy noeviction (or a volatile-* policy and enough
// memory): evicting a block or a TAT would lift a block or a limit early.
//
// # Scripts
//
// Each Limiter call is one EVALSHA round trip (EVAL once after Redis
// restarts and forgets the script): gcra.lua runs GCRA on every key of the
// call in order, so AllowBatch checks all tiers of a request atomically and a
// tier allowed before a refusing one still counts the request, exactly like
// consecutive Allow calls. Per key it reads the TAT, applies the formulas of
// package ratelimit, and on an allowed request writes the new TAT with PX =
// ResetAfter + 1s; a denied request writes nothing.
//
// Blocker's writes are scripts too, so each is atomic for its client:
// violation.lua counts a violation unless the client is blocked and places
// the block on reaching the threshold, block.lua places an operator's block,
// unblock.lua lifts one. The block list is one sorted set scored by the
// block's end: IsBlocked is a ZSCORE, Blocked a ZRANGEBYSCORE from now (in
// the order the Blocker interface asks for, since Redis orders equal scores
// by member), and the scripts that add to it drop entries that ended a minute
// or more (the tolerated clock skew between nodes) before the caller's now
// and extend the set's own PEXPIRE to its latest block, so it never outlives
// its blocks. ResetViolations, called on every allowed request, is a plain
// DEL.
//
// # Failures
//
// Every Redis error is returned wrapped, never hidden and never a panic; the
// middleware then fails open or closed by request class. NewClient sets
// timeouts short enough that an unreachable or stalled Redis costs a call
// well under a second (0.55 s measured against a paused Redis; see its
// documentation). A script whose reply was lost to a timeout may still have
// run, and NewClient's one retry may run it again, so a request that failed
// can have been counted once or twice: a rare cost paid for not failing
// requests (closed, on auth endpoints) when a pooled connection has died.
package redisrl
