package ratelimit

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/repairx/repairxctl/internal/server/clientip"
)

// ClientIPResolver finds a request's client address; *clientip.Resolver is
// the implementation.
type ClientIPResolver interface {
	ClientIP(*http.Request) (netip.Addr, error)
}

// Config assembles the middleware. Policy and Limiter are required, and
// Blocker unless Policy.Block is zero; everything else has a default.
type Config struct {
	Policy  Policy
	Limiter Limiter
	Blocker Blocker
	// ClientIP resolves the client address. The default trusts no proxy:
	// X-Forwarded-For is ignored and RemoteAddr used.
	ClientIP ClientIPResolver
	// AllowList holds the operators' networks, exempt from every limit and
	// block. Empty by default: loopback is limited like anyone else.
	AllowList clientip.PrefixSet
	// Classify decides a request's route class; nil classifies everything
	// as ClassGeneral.
	Classify func(*http.Request) Class
	// UserID returns the authenticated user's id, or "" for an anonymous
	// request; nil disables the user tier. It is called only after the
	// request passed the per-client tiers, so it may verify a token without
	// giving an unlimited client a way to spend CPU.
	UserID func(*http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnViolation hears of every request refused with 429 (and of the one
	// that triggers a block), for audit and metrics. It runs on the request
	// goroutine before the response is written: keep it quick.
	OnViolation func(*http.Request, Event)
	// OnBlock hears of each block this middleware places, once (after
	// OnViolation for the same request).
	OnBlock func(*http.Request, Event)
	// OnError hears of backend and client-address failures, whichever way
	// the class fails.
	OnError func(*http.Request, error)
	// Reject writes the body of a refusal (status 403, 429 or 503) after the
	// headers described in the package documentation are set; nil writes a
	// small JSON body {"error": "..."}.
	Reject func(w http.ResponseWriter, r *http.Request, status int)
}

// Event describes a violation or a block.
type Event struct {
	Time   time.Time
	IP     netip.Addr // the resolved client address
	Key    string     // the client key it is limited and blocked under
	Class  Class
	Tier   Tier   // the tier that refused the request
	UserID string // set when the user tier refused
	Result Result // the refusing tier's result
	// Violations is the consecutive count after this one (0 when blocking
	// is disabled or the blocker failed).
	Violations int
	// BlockedUntil is set when this violation placed a block.
	BlockedUntil time.Time
}

// ErrConfig is wrapped by Middleware's configuration errors.
var ErrConfig = errors.New("ratelimit: invalid middleware configuration")

// Middleware returns the traffic-protection middleware described in the
// package documentation.
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	if cfg.Limiter == nil {
		return nil, errors.Join(ErrConfig, errors.New("no Limiter"))
	}
	if cfg.Blocker == nil && !cfg.Policy.Block.IsZero() {
		return nil, errors.Join(ErrConfig, errors.New("the policy blocks clients but there is no Blocker"))
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = &clientip.Resolver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reject == nil {
		cfg.Reject = writeRejection
	}
	g := &guard{Config: cfg, batch: nil, blocking: !cfg.Policy.Block.IsZero()}
	g.batch, _ = cfg.Limiter.(BatchLimiter)
	if cfg.Blocker == nil {
		g.blocking = false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.serve(w, r, next)
		})
	}, nil
}

type guard struct {
	Config
	batch    BatchLimiter
	blocking bool
}

func (g *guard) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	class := ClassGeneral
	if g.Classify != nil {
		class = g.Classify(r)
	}
	ip, err := g.ClientIP.ClientIP(r)
	if err != nil {
		g.fail(w, r, next, class, err)
		return
	}
	if g.AllowList.Contains(ip) {
		next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	now := g.Now()
	key := g.Policy.ClientKey(ip)

	if g.Blocker != nil {
		blocked, _, err := g.Blocker.IsBlocked(ctx, key, now)
		if err != nil {
			g.fail(w, r, next, class, err)
			return
		}
		if blocked {
			g.refuse(w, r, http.StatusForbidden)
			return
		}
	}

	var tierBuf [3]Tier
	tiers := g.Policy.appendClientTiers(tierBuf[:0], class)
	var checkBuf [3]Check
	var resBuf [3]Result
	checks, results := checkBuf[:len(tiers)], resBuf[:len(tiers)]
	for i, t := range tiers {
		checks[i] = Check{Key: TierKey(t, key), Limit: g.Policy.Limit(t)}
	}
	if err := g.allow(r, checks, now, results); err != nil {
		g.fail(w, r, next, class, err)
		return
	}
	worst, worstTier, have := Result{}, Tier(0), false
	for i, res := range results {
		if !have || moreRestrictive(worst, res) {
			worst, worstTier, have = res, tiers[i], true
		}
	}

	var userID string
	if (!have || worst.Allowed) && class < ClassUnlimited && g.UserID != nil && !g.Policy.User.IsZero() {
		if userID = g.UserID(r); userID != "" {
			res, err := g.Limiter.Allow(ctx, TierKey(TierUser, userID), g.Policy.User, now)
			if err != nil {
				g.fail(w, r, next, class, err)
				return
			}
			if !have || moreRestrictive(worst, res) {
				worst, worstTier, have = res, TierUser, true
			}
		}
	}

	if !have {
		next.ServeHTTP(w, r) // every applicable tier is disabled
		return
	}
	if worst.Allowed {
		if g.blocking {
			if err := g.Blocker.ResetViolations(ctx, key); err != nil && g.OnError != nil {
				g.OnError(r, err)
			}
		}
		setRateLimitHeaders(w.Header(), worst)
		next.ServeHTTP(w, r)
		return
	}

	ev := Event{Time: now, IP: ip, Key: key, Class: class, Tier: worstTier, Result: worst}
	if worstTier == TierUser {
		ev.UserID = userID
	}
	status := http.StatusTooManyRequests
	newBlock := false
	if g.blocking {
		v, err := g.Blocker.RecordViolation(ctx, key, g.Policy.Block, now)
		switch {
		case err != nil:
			if g.OnError != nil {
				g.OnError(r, err)
			}
		case v.NewBlock:
			ev.Violations, ev.BlockedUntil, newBlock = v.Count, v.Until, true
			status = http.StatusForbidden
		case v.Blocked:
			// Another request or node blocked the key after the check above:
			// answer as a blocked key would be, and report nothing, since
			// this request neither was refused with 429 nor placed the block.
			g.refuse(w, r, http.StatusForbidden)
			return
		default:
			ev.Violations = v.Count
		}
	}
	if g.OnViolation != nil {
		g.OnViolation(r, ev)
	}
	if newBlock && g.OnBlock != nil {
		g.OnBlock(r, ev)
	}
	if status == http.StatusTooManyRequests {
		h := w.Header()
		setRateLimitHeaders(h, worst)
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(worst.RetryAfter), 1), 10))
	}
	g.refuse(w, r, status)
}

func (g *guard) allow(r *http.Request, checks []Check, now time.Time, results []Result) error {
	if len(checks) > 1 && g.batch != nil {
		return g.batch.AllowBatch(r.Context(), checks, now, results)
	}
	for i, c := range checks {
		res, err := g.Limiter.Allow(r.Context(), c.Key, c.Limit, now)
		if err != nil {
			return err
		}
		results[i] = res
	}
	return nil
}

// fail applies the class's FailMode after a backend or address failure.
func (g *guard) fail(w http.ResponseWriter, r *http.Request, next http.Handler, class Class, err error) {
	if g.OnError != nil {
		g.OnError(r, err)
	}
	if g.Policy.FailMode(class) == FailClosed {
		w.Header().Set("Retry-After", "5")
		g.refuse(w, r, http.StatusServiceUnavailable)
		return
	}
	next.ServeHTTP(w, r)
}

func (g *guard) refuse(w http.ResponseWriter, r *http.Request, status int) {
	w.Header().Set("Cache-Control", "no-store")
	g.Reject(w, r, status)
}

// moreRestrictive reports whether b restricts more than a: a refusal over an
// allowance, then the longer wait, then the fewer remaining, then the later
// reset.
func moreRestrictive(a, b Result) bool {
	if a.Allowed != b.Allowed {
		return !b.Allowed
	}
	if !b.Allowed {
		return b.RetryAfter > a.RetryAfter
	}
	if a.Remaining != b.Remaining {
		return b.Remaining < a.Remaining
	}
	return b.ResetAfter > a.ResetAfter
}

// setRateLimitHeaders writes the fields of draft-ietf-httpapi-ratelimit-headers-06.
func setRateLimitHeaders(h http.Header, res Result) {
	h.Set("RateLimit-Limit", strconv.Itoa(res.Limit.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
	policy := strconv.Itoa(res.Limit.Rate) + ";w=" + strconv.FormatInt(ceilSeconds(res.Limit.Period), 10)
	if res.Limit.Burst != res.Limit.Rate {
		policy += ";burst=" + strconv.Itoa(res.Limit.Burst)
	}
	h.Set("RateLimit-Policy", policy)
}

// ceilSeconds rounds d up to whole seconds, as delay-seconds must be.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func writeRejection(w http.ResponseWriter, _ *http.Request, status int) {
	var body string
	switch status {
	case http.StatusTooManyRequests:
		body = `{"error":"too many requests"}`
	case http.StatusForbidden:
		body = `{"error":"forbidden: this address is blocked"}`
	default:
		body = `{"error":"temporarily unavailable"}`
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
