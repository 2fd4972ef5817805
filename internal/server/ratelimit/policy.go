package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/repairx/repairxctl/internal/server/clientip"
)

// Class is a route's rate-limit class, decided by the server's classifier.
type Class uint8

// The route classes. Every class but ClassUnlimited is checked against the
// global tier and, for an authenticated request, the user tier.
const (
	// ClassGeneral is checked against the global tier only (static files,
	// health checks when not exempt).
	ClassGeneral Class = iota
	// ClassAPI adds the API tier (/api/v1/...).
	ClassAPI
	// ClassAuth adds the auth tier (login, refresh, 2FA): the strictest.
	ClassAuth
	// ClassUnlimited is checked against no tier; blocked clients are still
	// refused. For routes a load balancer polls, or metrics behind their own
	// network restriction.
	ClassUnlimited
	numClasses
)

var classNames = [numClasses]string{"general", "api", "auth", "unlimited"}

// String is the class's name, also its metrics label value.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// MarshalText implements encoding.TextMarshaler.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for config files.
func (c *Class) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
			return nil
		}
	}
	return fmt.Errorf("unknown route class %q (want one of general, api, auth, unlimited)", b)
}

// Tier is one of a Policy's limits.
type Tier uint8

// The tiers. The first three count per client IP (or IPv6 prefix), the last
// per authenticated user across all of that user's addresses.
const (
	TierGlobal Tier = iota
	TierAPI
	TierAuth
	TierUser
	numTiers
)

var tierNames = [numTiers]string{"global", "api", "auth", "user"}

// tierPrefixes start limiter keys, so one client's tiers are distinct keys.
var tierPrefixes = [numTiers]string{"g|", "a|", "l|", "u|"}

// String is the tier's name, also its metrics label value.
func (t Tier) String() string {
	if t < numTiers {
		return tierNames[t]
	}
	return fmt.Sprintf("tier(%d)", uint8(t))
}

// TierKey is the limiter key for subject (a client key or a user id) in
// tier t: "g|203.0.113.9", "u|42".
func TierKey(t Tier, subject string) string {
	return tierPrefixes[t] + subject
}

// FailMode is what a route class does when the backend cannot answer.
type FailMode uint8

const (
	// FailOpen lets the request through unchecked.
	FailOpen FailMode = iota
	// FailClosed answers 503.
	FailClosed
)

// String names the mode.
func (m FailMode) String() string {
	if m == FailClosed {
		return "closed"
	}
	return "open"
}

// Policy holds every number of traffic protection. A zero Limit disables its
// tier; a zero Block disables automatic blocking.
type Policy struct {
	// Global applies to every request of every class but ClassUnlimited,
	// per client.
	Global Limit `json:"global" yaml:"global" mapstructure:"global"`
	// API applies to ClassAPI, per client.
	API Limit `json:"api" yaml:"api" mapstructure:"api"`
	// Auth applies to ClassAuth, per client.
	Auth Limit `json:"auth" yaml:"auth" mapstructure:"auth"`
	// User applies per authenticated user, whatever the address.
	User Limit `json:"user" yaml:"user" mapstructure:"user"`
	// Block turns consecutive violations by one client into a block.
	Block BlockRule `json:"block" yaml:"block" mapstructure:"block"`
	// FailClosed lists the classes refused with 503 while the backend
	// fails; the others are let through.
	FailClosed []Class `json:"fail_closed" yaml:"fail_closed" mapstructure:"fail_closed"`
	// IPv6PrefixLen aggregates IPv6 clients into prefixes of this length for
	// limits and blocks; 0 or 128 counts each address on its own. One
	// subscriber normally holds a /64, so per-address counting lets one
	// client rotate through 2^64 addresses; the cost of 64 is that hosts
	// sharing a /64 (some hosting providers) share a budget.
	IPv6PrefixLen int `json:"ipv6_prefix_len" yaml:"ipv6_prefix_len" mapstructure:"ipv6_prefix_len"`
}

// DefaultPolicy is issue 4's policy: per client IP 100/min overall, 60/min
// on the API, 5 per 15 minutes on auth; 300/min per user; five consecutive
// violations block the client for an hour; auth fails closed; IPv6 clients
// counted per /64.
func DefaultPolicy() Policy {
	return Policy{
		Global:        PerMinute(100),
		API:           PerMinute(60),
		Auth:          PerPeriod(5, 15*time.Minute),
		User:          PerMinute(300),
		Block:         BlockRule{Threshold: 5, Duration: time.Hour, Window: time.Hour},
		FailClosed:    []Class{ClassAuth},
		IPv6PrefixLen: 64,
	}
}

// Validate reports every problem in p, each naming its field.
func (p Policy) Validate() error {
	var errs []error
	for t := range numTiers {
		if l := p.Limit(t); !l.IsZero() {
			if err := l.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t, err))
			}
		}
	}
	if !p.Block.IsZero() {
		if err := p.Block.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("block: %w", err))
		}
	}
	for _, c := range p.FailClosed {
		if c >= numClasses {
			errs = append(errs, fmt.Errorf("fail_closed: unknown class %d", c))
		}
	}
	if p.IPv6PrefixLen < 0 || p.IPv6PrefixLen > 128 {
		errs = append(errs, fmt.Errorf("ipv6_prefix_len: %d is not between 0 and 128", p.IPv6PrefixLen))
	}
	return errors.Join(errs...)
}

// Limit is the Limit of tier t.
func (p Policy) Limit(t Tier) Limit {
	switch t {
	case TierGlobal:
		return p.Global
	case TierAPI:
		return p.API
	case TierAuth:
		return p.Auth
	case TierUser:
		return p.User
	}
	return Limit{}
}

// ClientTiers lists the per-client tiers a class is checked against, in
// order, skipping disabled ones.
func (p Policy) ClientTiers(c Class) []Tier {
	var tiers []Tier
	return p.appendClientTiers(tiers, c)
}

func (p Policy) appendClientTiers(dst []Tier, c Class) []Tier {
	if c == ClassUnlimited || c >= numClasses {
		return dst
	}
	if !p.Global.IsZero() {
		dst = append(dst, TierGlobal)
	}
	if c == ClassAPI && !p.API.IsZero() {
		dst = append(dst, TierAPI)
	}
	if c == ClassAuth && !p.Auth.IsZero() {
		dst = append(dst, TierAuth)
	}
	return dst
}

// FailMode is what class c does when the backend fails.
func (p Policy) FailMode(c Class) FailMode {
	if slices.Contains(p.FailClosed, c) {
		return FailClosed
	}
	return FailOpen
}

// ClientKey is the key addr is limited and blocked under: the address, or
// its IPv6 prefix (see IPv6PrefixLen). Operator tools blocking an address
// must use it too.
func (p Policy) ClientKey(addr netip.Addr) string {
	return clientip.Key(addr, p.IPv6PrefixLen)
}
