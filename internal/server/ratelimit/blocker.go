package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidBlockRule is wrapped by errors about a BlockRule that cannot be
// enforced.
var ErrInvalidBlockRule = errors.New("invalid block rule")

// BlockRule says when consecutive violations turn into a block. The zero
// BlockRule disables automatic blocking.
type BlockRule struct {
	// Threshold is the number of consecutive violations that blocks the key.
	Threshold int `json:"threshold" yaml:"threshold" mapstructure:"threshold"`
	// Duration is how long the block lasts.
	Duration time.Duration `json:"duration" yaml:"duration" mapstructure:"duration"`
	// Window is how long a run of violations is remembered after the latest
	// one; a client silent for longer starts again from zero. It bounds how
	// long a violation counter occupies memory.
	Window time.Duration `json:"window" yaml:"window" mapstructure:"window"`
}

// IsZero reports whether r disables automatic blocking.
func (r BlockRule) IsZero() bool { return r == BlockRule{} }

// Validate reports why r cannot be enforced, wrapping ErrInvalidBlockRule.
func (r BlockRule) Validate() error {
	switch {
	case r.Threshold < 1:
		return fmt.Errorf("%w: threshold %d must be at least 1", ErrInvalidBlockRule, r.Threshold)
	case r.Duration < time.Millisecond:
		return fmt.Errorf("%w: duration %v must be at least 1ms", ErrInvalidBlockRule, r.Duration)
	case r.Window < time.Millisecond:
		return fmt.Errorf("%w: window %v must be at least 1ms", ErrInvalidBlockRule, r.Window)
	case r.Duration > maxBurstWindow || r.Window > maxBurstWindow:
		return fmt.Errorf("%w: duration and window must not exceed %v", ErrInvalidBlockRule, maxBurstWindow)
	}
	return nil
}

// Violation is what RecordViolation did.
type Violation struct {
	// Count is the number of consecutive violations including this one; it
	// equals the rule's Threshold on the call that placed a block, and is 0
	// when the key was already blocked (nothing is counted then).
	Count int
	// Blocked reports whether the key is blocked after the call.
	Blocked bool
	// NewBlock reports whether this call placed the block, so audit and
	// metrics hear of each block exactly once, across nodes.
	NewBlock bool
	// Until is when the block ends, if Blocked.
	Until time.Time
}

// BlockedKey is one entry of the block list.
type BlockedKey struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

// Blocker counts consecutive rate-limit violations per client key and keeps
// the block list. Like Limiter, implementations take time only from the now
// arguments, treat an entry whose expiry is at or before now as absent, make
// each call atomic per key, and are safe for concurrent use. Keys are client
// keys (clientip.Key), not tier keys.
type Blocker interface {
	// RecordViolation counts one violation for key at now. When the count
	// reaches rule.Threshold the key is blocked for rule.Duration and its
	// count cleared. A key already blocked is left as it is (the block is not
	// extended). An invalid rule returns an error wrapping ErrInvalidBlockRule.
	RecordViolation(ctx context.Context, key string, rule BlockRule, now time.Time) (Violation, error)
	// ResetViolations clears key's count; the middleware calls it for every
	// allowed request, so implementations should make the common case (no
	// count) cheap.
	ResetViolations(ctx context.Context, key string) error
	// IsBlocked reports whether key is blocked at now, and until when.
	IsBlocked(ctx context.Context, key string, now time.Time) (blocked bool, until time.Time, err error)
	// Block blocks key for d from now (an operator's manual block), replacing
	// any block and clearing its count, and returns when the block ends. A d
	// that is not positive or exceeds the longest BlockRule.Duration returns
	// an error wrapping ErrInvalidBlockRule.
	Block(ctx context.Context, key string, d time.Duration, now time.Time) (until time.Time, err error)
	// Unblock lifts key's block and clears its count; unblocking a key that
	// is not blocked is not an error.
	Unblock(ctx context.Context, key string) error
	// Blocked lists the keys blocked at now, ordered by Until then Key.
	Blocked(ctx context.Context, now time.Time) ([]BlockedKey, error)
}
