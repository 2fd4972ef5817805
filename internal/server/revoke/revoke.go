// Package revoke remembers revoked sessions until their access tokens
// expire, so that logout and refresh-token reuse end a session at once
// although access tokens are stateless JWTs.
//
// A session is a refresh-token family (the JWT's sid claim). The server
// revokes a session until the latest expiry of any access token issued in
// it, and checks the set on every authenticated request: an in-memory map
// here, Redis on several nodes (the next backend runs Conformance).
package revoke

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// List is the revoked-session set.
type List interface {
	// Revoke marks session revoked until until (after which no access token
	// of it can be valid anyway). Revoking again keeps the later time.
	Revoke(ctx context.Context, session string, until time.Time) error
	// Revoked reports whether session is revoked at now.
	Revoked(ctx context.Context, session string, now time.Time) (bool, error)
}

const shards = 64

// Memory is the in-process List. Entries are dropped once expired (swept by
// lookups, at most once a minute per shard), so its size is bounded by the
// sessions revoked within one access-token lifetime.
// Lookups lock one of 64 shards, never the whole set.
type Memory struct {
	seed   maphash.Seed
	shards [shards]memShard
}

type memShard struct {
	mu        sync.Mutex
	m         map[string]int64 // session -> until (Unix nanoseconds)
	lastSweep int64
}

var _ List = (*Memory)(nil)

// NewMemory returns an empty in-memory list.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = make(map[string]int64)
	}
	return m
}

func (m *Memory) shard(session string) *memShard {
	return &m.shards[maphash.String(m.seed, session)%shards]
}

// sweepEvery bounds how often a shard scans for expired entries.
const sweepEvery = int64(time.Minute)

// Revoke implements List.
func (m *Memory) Revoke(_ context.Context, session string, until time.Time) error {
	s := m.shard(session)
	u := until.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u > s.m[session] {
		s.m[session] = u
	}
	return nil
}

// Revoked implements List.
func (m *Memory) Revoked(_ context.Context, session string, now time.Time) (bool, error) {
	s := m.shard(session)
	n := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.m[session]
	if ok && until <= n {
		delete(s.m, session)
		ok = false
	}
	// The caller's clock decides expiry (tests run on a fake one), so
	// sweeping happens here, where now is known.
	s.sweep(n)
	return ok, nil
}

func (s *memShard) sweep(now int64) {
	if now-s.lastSweep < sweepEvery {
		return
	}
	s.lastSweep = now
	for k, until := range s.m {
		if until <= now {
			delete(s.m, k)
		}
	}
}

// Len counts the entries held, expired ones not yet swept included.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
