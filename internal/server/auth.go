package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/server/decode"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/store"
)

// Cookie names. The __Host- prefix pins the access cookie to this host and
// path /, Secure; the refresh cookie is scoped to the auth routes, which the
// __Host- prefix does not allow, so it takes __Secure-.
const (
	accessCookie  = "__Host-repairx_access"
	refreshCookie = "__Secure-repairx_refresh"
)

// principal is the signed-in user of a request.
type principal struct {
	user   store.User
	claims auth.AccessClaims
}

type authedHandler func(w http.ResponseWriter, r *http.Request, p principal)

// authFlags modify authed.
type authFlags uint8

// allowUnenrolled lets a user whose role requires 2FA but who has not
// enrolled reach the handler (2FA setup and verify only).
const allowUnenrolled authFlags = 1

// bearer returns the request's access token: the Authorization header for
// API clients, else the access cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(accessCookie); err == nil {
		return c.Value
	}
	return ""
}

// claims verifies the request's access token once per request.
func (s *Server) claims(r *http.Request) (*auth.AccessClaims, error) {
	st := state(r)
	if st.parsed {
		return st.claims, st.claimsErr
	}
	st.parsed = true
	tok := bearer(r)
	if tok == "" {
		st.claimsErr = errNoToken
		return nil, st.claimsErr
	}
	c, err := s.tokens.ParseAccess(tok, s.now())
	if err != nil {
		st.claimsErr = err
		return nil, err
	}
	st.claims = &c
	return st.claims, nil
}

var errNoToken = errors.New("no access token")

// rateLimitUser names the user for the per-user tier: the subject of a
// valid access token. Revocation and the store are checked later, by
// authed; a revoked but unexpired token is still that user's traffic.
func (s *Server) rateLimitUser(r *http.Request) string {
	c, err := s.claims(r)
	if err != nil {
		return ""
	}
	return c.UserID
}

// authed wraps a handler that needs a signed-in user: a valid access token
// of a live session, an enabled user, and 2FA enrolment where the role
// requires it.
func (s *Server) authed(h authedHandler, flags authFlags) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.claims(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="repairx"`)
			code, msg := "unauthenticated", "sign in first"
			if errors.Is(err, auth.ErrTokenExpired) {
				code, msg = "token_expired", "access token expired: refresh it"
			} else if !errors.Is(err, errNoToken) {
				code, msg = "invalid_token", "invalid access token"
			}
			writeError(w, r, http.StatusUnauthorized, code, msg)
			return
		}
		ctx := r.Context()
		if c.SessionID != "" {
			revoked, err := s.opts.Revoked.Revoked(ctx, c.SessionID, s.now())
			if err != nil {
				// The backend (Redis) failed: the class's fail mode decides,
				// as for rate limits. Failing open lets a logged-out token
				// work until it expires (at most the access-token lifetime).
				s.metrics.LimiterFailures.Inc()
				s.log.ErrorContext(r.Context(), "revocation list failed", "request_id", state(r).id, "error", err.Error())
				if s.opts.Policy.FailMode(classOf(r)) == ratelimit.FailClosed {
					w.Header().Set("Retry-After", "5")
					writeError(w, r, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable: retry later")
					return
				}
			}
			if revoked {
				writeError(w, r, http.StatusUnauthorized, "session_revoked", "session ended: sign in again")
				return
			}
		}
		u, err := s.opts.Store.UserByID(ctx, c.UserID)
		if err != nil || u.Disabled {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.internalError(w, r, "reading the user", err)
				return
			}
			writeError(w, r, http.StatusUnauthorized, "invalid_token", "invalid access token")
			return
		}
		state(r).userID = u.ID
		if flags&allowUnenrolled == 0 && s.twoFactorRequired(u.Role) && !(u.TwoFactorEnabled && c.MFA) {
			writeError(w, r, http.StatusForbidden, "2fa_enrolment_required",
				"your role requires two-factor authentication: set it up at "+path2FASetup)
			return
		}
		h(w, r, principal{user: u, claims: *c})
	}
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.ErrorContext(r.Context(), what+": timed out", "request_id", state(r).id)
		writeError(w, r, http.StatusServiceUnavailable, "timeout", "the server took too long: retry later")
		return
	}
	s.log.ErrorContext(r.Context(), what, "request_id", state(r).id, "error", err.Error())
	writeError(w, r, http.StatusInternalServerError, "internal", "internal error")
}

func (s *Server) audit(r *http.Request, ev audit.Event) {
	st := state(r)
	ev.Timestamp = s.now()
	ev.IP = st.ip.String()
	if !st.ip.IsValid() {
		ev.IP = ""
	}
	ev.UserAgent = truncate(r.UserAgent(), 256)
	s.opts.Audit.Record(r.Context(), ev)
}

// loginRequest is the body of POST login.
type loginRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	TOTP       string `json:"totp,omitempty"`
	BackupCode string `json:"backupCode,omitempty"`
}

// sessionResponse answers a login, a refresh and a 2FA verify.
type sessionResponse struct {
	AccessToken string       `json:"accessToken"`
	TokenType   string       `json:"tokenType"`
	ExpiresAt   time.Time    `json:"expiresAt"`
	User        userResponse `json:"user"`
	// BackupCodes is set once, by 2FA verify.
	BackupCodes []string `json:"backupCodes,omitempty"`
}

type userResponse struct {
	ID                string       `json:"id"`
	Email             string       `json:"email"`
	Role              store.Role   `json:"role"`
	Organisation      orgResponse  `json:"organisation"`
	TwoFactorEnabled  bool         `json:"twoFactorEnabled"`
	TwoFactorRequired bool         `json:"twoFactorRequired"`
	CreatedAt         time.Time    `json:"createdAt"`
	Session           *sessionInfo `json:"session,omitempty"`
}

type orgResponse struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type sessionInfo struct {
	ID        string    `json:"id"`
	MFA       bool      `json:"mfa"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (s *Server) userResponse(ctx context.Context, u store.User) userResponse {
	out := userResponse{
		ID: u.ID, Email: u.Email, Role: u.Role,
		Organisation:      orgResponse{ID: u.OrgID},
		TwoFactorEnabled:  u.TwoFactorEnabled,
		TwoFactorRequired: s.twoFactorRequired(u.Role),
		CreatedAt:         u.CreatedAt.UTC(),
	}
	if org, err := s.organisation(ctx, u.OrgID); err == nil {
		out.Organisation.Name = org.Name
	}
	return out
}

// Login failures all answer alike, so that a caller cannot tell an unknown
// address from a wrong password or a disabled account.
const invalidCredentials = "invalid email or password"

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode.JSON(w, r, &req, s.opts.MaxBodyBytes); err != nil {
		writeDecodeError(w, r, err)
		return
	}
	email := store.NormaliseEmail(req.Email)
	if err := decode.Email("email", email); err != nil {
		writeDecodeError(w, r, err)
		return
	}
	if err := decode.Required("password", req.Password); err != nil {
		writeDecodeError(w, r, err)
		return
	}
	if req.TOTP != "" && req.BackupCode != "" {
		writeDecodeError(w, r, &decode.Error{Status: http.StatusBadRequest, Field: "backupCode", Reason: "give totp or backupCode, not both"})
		return
	}
	ctx := r.Context()
	now := s.now()

	u, err := s.opts.Store.UserByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internalError(w, r, "reading the user", err)
		return
	}
	// Unknown addresses are counted under a key of their own, so that they
	// lock like known ones and the lock does not reveal which exist.
	lockKey := "email:" + email
	if known {
		lockKey = u.ID
	}
	// Every attempt is counted before the password is checked, so that
	// attempts running at the same time cannot all slip past the lock: the
	// count is one atomic step in the store, and the attempt after
	// Threshold failures is the one that locks (and is refused unchecked).
	attempts := s.opts.Lockout
	attempts.Threshold++
	before, err := s.opts.Store.Lockout(ctx, lockKey)
	if err != nil {
		s.internalError(w, r, "reading the lockout", err)
		return
	}
	lock := before
	if !before.Locked(now) {
		if lock, err = s.opts.Store.RecordFailure(ctx, lockKey, now, attempts); err != nil {
			s.internalError(w, r, "counting a login attempt", err)
			return
		}
	}
	fail := func(reason, metric string) {
		s.metrics.Logins.WithLabelValues(metric).Inc()
		ev := audit.Event{Action: audit.ActionLogin, Resource: "user:" + email, Result: audit.ResultFailure,
			Details: map[string]any{"reason": reason}}
		if known {
			ev.UserID = u.ID
			ev.Resource = "user:" + u.ID
		}
		s.audit(r, ev)
	}
	if lock.Locked(now) {
		if !before.Locked(now) && lock.LockoutCount > before.LockoutCount {
			// This attempt placed the lock.
			s.metrics.Lockouts.Inc()
			ev := audit.Event{Action: audit.ActionLockout, Resource: "user:" + email, Result: audit.ResultBlocked,
				Details: map[string]any{"until": lock.LockedUntil.UTC().Format(time.RFC3339), "lockouts": lock.LockoutCount}}
			if known {
				ev.UserID, ev.Resource = u.ID, "user:"+u.ID
			}
			s.audit(r, ev)
		}
		// Spend the same time as a check, and say nothing about the password.
		s.opts.Hasher.VerifyDummy(req.Password)
		fail("locked", "locked")
		retry := int(lock.LockedUntil.Sub(now).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeError(w, r, http.StatusLocked, "account_locked", "too many failed logins: try again later")
		return
	}

	if !known {
		s.opts.Hasher.VerifyDummy(req.Password)
		fail("unknown_user", "invalid_credentials")
		writeError(w, r, http.StatusUnauthorized, "invalid_credentials", invalidCredentials)
		return
	}
	ok, rehash, err := s.opts.Hasher.Verify(u.PasswordHash, req.Password)
	if err != nil {
		s.internalError(w, r, "checking a password", err)
		return
	}
	if !ok {
		fail("password", "invalid_credentials")
		writeError(w, r, http.StatusUnauthorized, "invalid_credentials", invalidCredentials)
		return
	}
	if u.Disabled {
		fail("disabled", "disabled")
		writeError(w, r, http.StatusUnauthorized, "invalid_credentials", invalidCredentials)
		return
	}

	mfa := false
	if u.TwoFactorEnabled {
		switch {
		case req.TOTP == "" && req.BackupCode == "":
			// The password was right: ask for the second factor. The
			// attempt stays counted until a login succeeds, so that
			// alternating code guesses with bare passwords gains nothing.
			s.metrics.Logins.WithLabelValues("second_factor_required").Inc()
			writeError(w, r, http.StatusUnauthorized, "2fa_required", "enter the code from your authenticator app (totp) or a backup code (backupCode)")
			return
		case req.TOTP != "":
			ok, err = s.checkTOTP(ctx, u.ID, req.TOTP, now)
		default:
			ok, err = s.opts.Store.UseBackupCode(ctx, u.ID, auth.HashBackupCode(req.BackupCode))
		}
		if err != nil {
			s.internalError(w, r, "checking the second factor", err)
			return
		}
		if !ok {
			fail("second_factor", "invalid_second_factor")
			writeError(w, r, http.StatusUnauthorized, "invalid_2fa", "invalid two-factor code")
			return
		}
		mfa = true
	}

	if err := s.opts.Store.ClearFailures(ctx, u.ID); err != nil {
		s.log.ErrorContext(r.Context(), "clearing failed logins", "request_id", state(r).id, "error", err.Error())
	}
	if rehash {
		if h, err := s.opts.Hasher.Hash(req.Password); err == nil {
			if err := s.opts.Store.SetPasswordHash(ctx, u.ID, h, now); err != nil {
				s.log.WarnContext(r.Context(), "rehashing a password", "request_id", state(r).id, "error", err.Error())
			}
		}
	}
	resp, err := s.startSession(w, r, u, "", mfa)
	if err != nil {
		s.internalError(w, r, "starting a session", err)
		return
	}
	s.metrics.Logins.WithLabelValues("success").Inc()
	details := map[string]any{"mfa": mfa}
	if req.BackupCode != "" {
		details["method"] = "backup_code"
	}
	s.audit(r, audit.Event{UserID: u.ID, Action: audit.ActionLogin, Resource: "user:" + u.ID, Result: audit.ResultSuccess, Details: details})
	writeJSON(w, http.StatusOK, resp)
}

// checkTOTP accepts a code for the user's secret once: the code's time step
// must be later than the last one accepted.
func (s *Server) checkTOTP(ctx context.Context, userID, code string, now time.Time) (bool, error) {
	secret, err := s.totpSecret(ctx, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	step, ok := auth.CheckTOTP(secret, code, now, 1)
	if !ok {
		return false, nil
	}
	return s.opts.Store.AcceptStep(ctx, userID, step)
}

func (s *Server) totpSecret(ctx context.Context, userID string) (string, error) {
	st, err := s.opts.Store.TOTPState(ctx, userID)
	if err != nil {
		return "", err
	}
	plain, err := auth.Open(s.opts.Keys.Keys().Data, st.SecretCiphertext, st.KeyID, []byte(userID))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// startSession issues an access token and a refresh token. family "" starts
// a new session (a login); otherwise the refresh token is the next of that
// family and has been stored by the caller.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User, family string, mfa bool) (sessionResponse, error) {
	now := s.now()
	value, hash, err := auth.NewRefreshToken()
	if err != nil {
		return sessionResponse{}, err
	}
	rt, err := s.opts.Store.CreateRefreshToken(r.Context(), store.RefreshToken{
		UserID: u.ID, FamilyID: family, TokenHash: hash, MFA: mfa, CreatedAt: now, ExpiresAt: now.Add(s.opts.RefreshTTL),
	})
	if err != nil {
		return sessionResponse{}, err
	}
	return s.issue(w, r, u, rt, value, mfa)
}

// issue signs the access token for the refresh token rt (whose opaque value
// is value), sets both cookies and builds the response.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, u store.User, rt store.RefreshToken, value string, mfa bool) (sessionResponse, error) {
	now := s.now()
	tok, exp, err := s.tokens.IssueAccess(auth.AccessClaims{
		UserID: u.ID, Role: string(u.Role), OrgID: u.OrgID, SessionID: rt.FamilyID, MFA: mfa,
	}, now)
	if err != nil {
		return sessionResponse{}, err
	}
	s.setCookie(w, accessCookie, tok, "/", exp.Sub(now))
	s.setCookie(w, refreshCookie, value, refreshCookiePath, rt.ExpiresAt.Sub(now))
	state(r).userID = u.ID
	resp := sessionResponse{AccessToken: tok, TokenType: "Bearer", ExpiresAt: exp.UTC(), User: s.userResponse(r.Context(), u)}
	resp.User.Session = &sessionInfo{ID: rt.FamilyID, MFA: mfa, ExpiresAt: rt.ExpiresAt.UTC()}
	return resp, nil
}

func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: path,
		HttpOnly: true, Secure: true, SameSite: s.opts.SameSite,
		MaxAge: int(maxAge / time.Second),
	}
	if maxAge <= 0 {
		c.MaxAge = -1
		c.Value = ""
	}
	http.SetCookie(w, c)
}

func (s *Server) clearCookies(w http.ResponseWriter) {
	s.setCookie(w, accessCookie, "", "/", 0)
	s.setCookie(w, refreshCookie, "", refreshCookiePath, 0)
}

// revokeSession ends a session's access tokens at once.
func (s *Server) revokeSession(ctx context.Context, family string) {
	if family == "" {
		return
	}
	// Access tokens of the session expire within AccessTTL (plus leeway).
	until := s.now().Add(s.opts.AccessTTL + time.Minute)
	if err := s.opts.Revoked.Revoke(ctx, family, until); err != nil {
		s.log.ErrorContext(ctx, "revoking a session", "session", family, "error", err.Error())
	}
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(refreshCookie)
	if err != nil || c.Value == "" {
		writeError(w, r, http.StatusUnauthorized, "unauthenticated", "no refresh token: sign in")
		return
	}
	hash, err := auth.HashRefreshToken(c.Value)
	if err != nil {
		s.clearCookies(w)
		writeError(w, r, http.StatusUnauthorized, "invalid_token", "invalid refresh token: sign in")
		return
	}
	ctx := r.Context()
	now := s.now()
	value, nextHash, err := auth.NewRefreshToken()
	if err != nil {
		s.internalError(w, r, "making a refresh token", err)
		return
	}
	rt, err := s.opts.Store.RotateRefreshToken(ctx, hash, store.RefreshToken{
		TokenHash: nextHash, CreatedAt: now, ExpiresAt: now.Add(s.opts.RefreshTTL),
	}, now)
	switch {
	case errors.Is(err, store.ErrTokenReuse):
		// A spent token came back: someone holds a copy. The store revoked
		// the family; end its access tokens too.
		s.revokeSession(ctx, rt.FamilyID)
		s.metrics.TokenReuse.Inc()
		s.audit(r, audit.Event{UserID: rt.UserID, Action: audit.ActionRefreshTokenReuse, Resource: "session:" + rt.FamilyID,
			Result: audit.ResultBlocked, Details: map[string]any{"tokenId": rt.ID}})
		s.log.WarnContext(r.Context(), "refresh token reuse: session revoked", "request_id", state(r).id, "user_id", rt.UserID, "session", rt.FamilyID)
		s.clearCookies(w)
		writeError(w, r, http.StatusUnauthorized, "invalid_token", "invalid refresh token: sign in")
		return
	case errors.Is(err, store.ErrTokenRevoked), errors.Is(err, store.ErrTokenExpired), errors.Is(err, store.ErrNotFound):
		s.clearCookies(w)
		writeError(w, r, http.StatusUnauthorized, "invalid_token", "invalid refresh token: sign in")
		return
	case err != nil:
		s.internalError(w, r, "rotating a refresh token", err)
		return
	}
	u, err := s.opts.Store.UserByID(ctx, rt.UserID)
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.internalError(w, r, "reading the user", err)
			return
		}
		_, _ = s.opts.Store.RevokeRefreshFamily(ctx, rt.FamilyID, now)
		s.clearCookies(w)
		writeError(w, r, http.StatusUnauthorized, "invalid_token", "invalid refresh token: sign in")
		return
	}
	// The session keeps the MFA it was started with (stored on the family),
	// never derived from the user's state now: a login racing an enrolment
	// must not be upgraded.
	resp, err := s.issue(w, r, u, rt, value, rt.MFA)
	if err != nil {
		s.internalError(w, r, "issuing an access token", err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var userID, family string
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value != "" {
		if hash, err := auth.HashRefreshToken(c.Value); err == nil {
			rt, err := s.opts.Store.RevokeRefreshToken(ctx, hash, s.now())
			if err == nil {
				userID, family = rt.UserID, rt.FamilyID
				if _, err := s.opts.Store.RevokeRefreshFamily(ctx, rt.FamilyID, s.now()); err != nil {
					s.log.ErrorContext(r.Context(), "revoking a session's refresh tokens", "request_id", state(r).id, "error", err.Error())
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				s.internalError(w, r, "revoking a refresh token", err)
				return
			}
		}
	}
	// A bearer of a valid access token ends its session too.
	if c, err := s.claims(r); err == nil {
		if userID == "" {
			userID = c.UserID
		}
		if family == "" || family == c.SessionID {
			family = c.SessionID
			if _, err := s.opts.Store.RevokeRefreshFamily(ctx, family, s.now()); err != nil {
				s.log.ErrorContext(r.Context(), "revoking a session's refresh tokens", "request_id", state(r).id, "error", err.Error())
			}
		} else {
			if _, err := s.opts.Store.RevokeRefreshFamily(ctx, c.SessionID, s.now()); err != nil {
				s.log.ErrorContext(r.Context(), "revoking a session's refresh tokens", "request_id", state(r).id, "error", err.Error())
			}
			s.revokeSession(ctx, c.SessionID)
		}
	}
	s.revokeSession(ctx, family)
	s.clearCookies(w)
	if userID != "" {
		s.audit(r, audit.Event{UserID: userID, Action: audit.ActionLogout, Resource: "session:" + family, Result: audit.ResultSuccess})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p principal) {
	resp := s.userResponse(r.Context(), p.user)
	resp.Session = &sessionInfo{ID: p.claims.SessionID, MFA: p.claims.MFA, ExpiresAt: p.claims.ExpiresAt.UTC()}
	writeJSON(w, http.StatusOK, resp)
}
