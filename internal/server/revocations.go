package server

import (
	"context"
	"fmt"
	"time"
)

// RestoreRevocations rebuilds the revoked-session list from the store's
// revoked refresh-token families, so that an access token of a session
// that ended before a restart does not work again after it. A node with an
// in-memory list calls it once at start-up; a shared list (Redis) outlives
// the process and needs no rebuild. It returns how many sessions it put
// back: those revoked within the access-token lifetime (plus leeway), the
// only ones whose access tokens can still be unexpired.
func (s *Server) RestoreRevocations(ctx context.Context) (int, error) {
	window := s.opts.AccessTTL + time.Minute
	now := s.now()
	fams, err := s.opts.Store.RevokedFamilies(ctx, now.Add(-window))
	if err != nil {
		return 0, fmt.Errorf("reading the revoked sessions: %w", err)
	}
	n := 0
	for _, f := range fams {
		until := f.RevokedAt.Add(window)
		if !until.After(now) {
			continue
		}
		if err := s.opts.Revoked.Revoke(ctx, f.FamilyID, until); err != nil {
			return n, fmt.Errorf("restoring the revoked sessions: %w", err)
		}
		n++
	}
	return n, nil
}
