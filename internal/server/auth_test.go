package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/store"
)

// relaxed exempts loopback from rate limits, for tests about something else.
func relaxed(o *server.Options) {
	o.AllowList = clientip.MustParsePrefixes("127.0.0.0/8")
}

const (
	accessCookie  = "__Host-repairx_access"
	refreshCookie = "__Secure-repairx_refresh"
)

func TestLoginCookiesMeRefreshLogout(t *testing.T) {
	e := newEnv(t, relaxed)
	u := e.createUser("Tech@Example.test", store.RoleTechnician)
	c := e.client()

	r := c.login("tech@example.test", testPassword)
	wantStatus(t, r, http.StatusOK)
	body := r.json(t)
	if body["tokenType"] != "Bearer" || body["accessToken"] == "" {
		t.Fatalf("login body %s", r.body)
	}
	user := body["user"].(map[string]any)
	if user["id"] != u.ID || user["email"] != "tech@example.test" || user["role"] != "technician" ||
		user["organisation"].(map[string]any)["name"] != "Acme Repairs" {
		t.Errorf("login user %v", user)
	}
	exp, err := time.Parse(time.RFC3339, body["expiresAt"].(string))
	if err != nil || exp.Sub(e.clock.Now()) != 15*time.Minute {
		t.Errorf("access token expires %v after login (%v), want 15m", exp.Sub(e.clock.Now()), err)
	}

	// Cookie attributes, as sent.
	cookies := map[string]*http.Cookie{}
	for _, ck := range r.Cookies() {
		cookies[ck.Name] = ck
	}
	for name, path := range map[string]string{accessCookie: "/", refreshCookie: "/api/v1/auth"} {
		ck := cookies[name]
		if ck == nil {
			t.Fatalf("no %s cookie; got %v", name, r.Header.Values("Set-Cookie"))
		}
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != path || ck.Domain != "" {
			t.Errorf("%s: %s", name, ck.String())
		}
	}
	if got := cookies[refreshCookie].MaxAge; got != int((7 * 24 * time.Hour).Seconds()) {
		t.Errorf("refresh cookie Max-Age %d, want 7 days", got)
	}
	if got := cookies[accessCookie].MaxAge; got != 900 {
		t.Errorf("access cookie Max-Age %d, want 900", got)
	}

	// /me with the cookie, and with a Bearer token from another client.
	me := c.get("/api/v1/me")
	wantStatus(t, me, http.StatusOK)
	if m := me.json(t); m["id"] != u.ID || m["twoFactorEnabled"] != false {
		t.Errorf("me %s", me.body)
	}
	api := e.client()
	wantStatus(t, api.get("/api/v1/me", "Authorization", "Bearer "+body["accessToken"].(string)), http.StatusOK)
	wantCode(t, api.get("/api/v1/me"), http.StatusUnauthorized, "unauthenticated")
	wantCode(t, api.get("/api/v1/me", "Authorization", "Bearer not.a.jwt"), http.StatusUnauthorized, "invalid_token")

	// Refresh rotates the refresh token.
	first := c.cookie("/api/v1/auth", refreshCookie)
	e.clock.Advance(time.Minute)
	r = c.post("/api/v1/auth/refresh", nil)
	wantStatus(t, r, http.StatusOK)
	second := c.cookie("/api/v1/auth", refreshCookie)
	if first == "" || second == "" || first == second {
		t.Fatalf("refresh did not rotate the cookie (%q -> %q)", first, second)
	}
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)

	// Logout ends the session: the access token stops working at once and
	// the refresh token is spent.
	access := c.cookie("/", accessCookie)
	wantStatus(t, c.post("/api/v1/auth/logout", nil), http.StatusNoContent)
	if c.cookie("/", accessCookie) != "" || c.cookie("/api/v1/auth", refreshCookie) != "" {
		t.Error("logout did not clear the cookies")
	}
	wantCode(t, api.get("/api/v1/me", "Authorization", "Bearer "+access), http.StatusUnauthorized, "session_revoked")
	wantStatus(t, api.post("/api/v1/auth/refresh", nil, "Cookie", refreshCookie+"="+second), http.StatusUnauthorized)

	if e.auditCount(audit.ActionLogin, audit.ResultSuccess) != 1 || e.auditCount(audit.ActionLogout, audit.ResultSuccess) != 1 {
		t.Errorf("audit %v", e.auditLines())
	}
	// The store holds the same events as the file.
	evs, err := e.store.ListAudit(context.Background(), store.AuditFilter{UserID: u.ID})
	if err != nil || len(evs) < 2 {
		t.Errorf("store audit rows %d (%v)", len(evs), err)
	}
}

func TestRefreshTokenReuseRevokesTheFamily(t *testing.T) {
	e := newEnv(t, relaxed)
	e.createUser("a@example.test", store.RoleCustomer)
	c := e.client()
	wantStatus(t, c.login("a@example.test", testPassword), http.StatusOK)
	stolen := c.cookie("/api/v1/auth", refreshCookie)
	wantStatus(t, c.post("/api/v1/auth/refresh", nil), http.StatusOK)
	access := c.cookie("/", accessCookie)

	// The thief presents the spent token: refused, and the whole session ends.
	thief := e.client()
	wantCode(t, thief.post("/api/v1/auth/refresh", nil, "Cookie", refreshCookie+"="+stolen), http.StatusUnauthorized, "invalid_token")
	wantStatus(t, c.post("/api/v1/auth/refresh", nil), http.StatusUnauthorized)
	wantCode(t, thief.get("/api/v1/me", "Authorization", "Bearer "+access), http.StatusUnauthorized, "session_revoked")
	if e.auditCount(audit.ActionRefreshTokenReuse, audit.ResultBlocked) != 1 {
		t.Errorf("no reuse audit event: %v", e.auditLines())
	}
	// A malformed token is refused without reaching the store.
	wantStatus(t, thief.post("/api/v1/auth/refresh", nil, "Cookie", refreshCookie+"=short"), http.StatusUnauthorized)
}

func TestRefreshTokenExpires(t *testing.T) {
	e := newEnv(t, relaxed)
	e.createUser("a@example.test", store.RoleCustomer)
	c := e.client()
	wantStatus(t, c.login("a@example.test", testPassword), http.StatusOK)
	e.clock.Advance(16 * time.Minute)
	wantCode(t, c.get("/api/v1/me"), http.StatusUnauthorized, "token_expired")
	wantStatus(t, c.post("/api/v1/auth/refresh", nil), http.StatusOK)
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)
	e.clock.Advance(7*24*time.Hour + time.Minute)
	wantStatus(t, c.post("/api/v1/auth/refresh", nil), http.StatusUnauthorized)
}

func TestNoUserEnumeration(t *testing.T) {
	e := newEnv(t, relaxed)
	e.createUser("known@example.test", store.RoleCustomer)
	c := e.client()
	unknown := c.login("nobody@example.test", testPassword)
	wrong := c.login("known@example.test", "wrong password!")
	for _, r := range []response{unknown, wrong} {
		wantCode(t, r, http.StatusUnauthorized, "invalid_credentials")
	}
	if unknown.json(t)["error"] != wrong.json(t)["error"] {
		t.Errorf("messages differ: %s vs %s", unknown.body, wrong.body)
	}
	// Unknown addresses lock like known ones.
	for range 4 {
		c.login("nobody@example.test", testPassword)
		c.login("known@example.test", "wrong password!")
	}
	wantCode(t, c.login("nobody@example.test", testPassword), http.StatusLocked, "account_locked")
	wantCode(t, c.login("known@example.test", testPassword), http.StatusLocked, "account_locked")
	// A disabled account answers like a wrong password.
	u := e.createUser("gone@example.test", store.RoleCustomer)
	if err := e.store.SetDisabled(context.Background(), u.ID, true, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.login("gone@example.test", testPassword), http.StatusUnauthorized, "invalid_credentials")
}

func TestLockoutDoubles(t *testing.T) {
	e := newEnv(t, relaxed)
	u := e.createUser("m@example.test", store.RoleManager)
	c := e.client()
	fail5 := func() {
		t.Helper()
		for i := range 5 {
			r := c.login("m@example.test", "wrong password!")
			wantStatus(t, r, http.StatusUnauthorized)
			_ = i
		}
	}
	fail5()
	r := c.login("m@example.test", testPassword)
	wantCode(t, r, http.StatusLocked, "account_locked")
	if ra := r.Header.Get("Retry-After"); ra == "" {
		t.Error("no Retry-After on a locked account")
	}
	e.clock.Advance(15*time.Minute + time.Second)
	wantStatus(t, c.login("m@example.test", testPassword), http.StatusOK)

	// The second lockout lasts 30 minutes (from the attempt that placed it).
	fail5()
	wantCode(t, c.login("m@example.test", testPassword), http.StatusLocked, "account_locked")
	e.clock.Advance(16 * time.Minute)
	wantCode(t, c.login("m@example.test", testPassword), http.StatusLocked, "account_locked")
	e.clock.Advance(15 * time.Minute)
	wantStatus(t, c.login("m@example.test", testPassword), http.StatusOK)

	// `user unlock` (store.Unlock) clears at once.
	fail5()
	wantCode(t, c.login("m@example.test", testPassword), http.StatusLocked, "account_locked")
	if err := e.store.Unlock(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.login("m@example.test", testPassword), http.StatusOK)
	if n := e.auditCount(audit.ActionLockout, audit.ResultBlocked); n != 3 {
		t.Errorf("%d lockout events, want 3", n)
	}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwoFactorEnrolmentLoginAndDisable(t *testing.T) {
	e := newEnv(t, relaxed)
	admin := e.createUser("admin@example.test", store.RoleAdmin)
	c := e.client()
	wantStatus(t, c.login("admin@example.test", testPassword), http.StatusOK)

	// Admins reach nothing but 2FA setup until enrolled.
	wantCode(t, c.get("/api/v1/me"), http.StatusForbidden, "2fa_enrolment_required")
	wantCode(t, c.post("/api/v1/auth/2fa/disable", map[string]string{"code": "123456"}), http.StatusForbidden, "2fa_enrolment_required")
	wantCode(t, c.post("/api/v1/auth/2fa/verify", map[string]string{"code": "123456"}), http.StatusConflict, "2fa_not_set_up")

	r := c.post("/api/v1/auth/2fa/setup", nil)
	wantStatus(t, r, http.StatusOK)
	setup := r.json(t)
	secret := setup["secret"].(string)
	if !strings.HasPrefix(setup["otpauthUri"].(string), "otpauth://totp/") || !strings.Contains(setup["otpauthUri"].(string), "secret="+secret) {
		t.Errorf("otpauth URI %v", setup["otpauthUri"])
	}
	pngBytes, err := base64.StdEncoding.DecodeString(setup["qrCodePng"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(pngBytes)); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	// The secret is stored sealed, with its key id.
	st, err := e.store.TOTPState(context.Background(), admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(st.SecretCiphertext, []byte(secret)) || st.KeyID != e.keys.Data.Current.ID {
		t.Errorf("TOTP secret stored in the clear or without its key id %q", st.KeyID)
	}

	wantCode(t, c.post("/api/v1/auth/2fa/verify", map[string]string{"code": "000000"}), http.StatusUnauthorized, "invalid_2fa")
	now := e.clock.Now()
	r = c.post("/api/v1/auth/2fa/verify", map[string]string{"code": code(t, secret, now)})
	wantStatus(t, r, http.StatusOK)
	codes := r.json(t)["backupCodes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("%d backup codes, want 10", len(codes))
	}
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)

	// Login now needs the second factor; the code just used is spent.
	other := e.client()
	wantCode(t, other.login("admin@example.test", testPassword), http.StatusUnauthorized, "2fa_required")
	wantCode(t, other.login("admin@example.test", testPassword, "totp", code(t, secret, now)), http.StatusUnauthorized, "invalid_2fa")
	e.clock.Advance(30 * time.Second)
	next := code(t, secret, e.clock.Now())
	wantStatus(t, other.login("admin@example.test", testPassword, "totp", next), http.StatusOK)
	wantStatus(t, other.get("/api/v1/me"), http.StatusOK)
	third := e.client()
	wantCode(t, third.login("admin@example.test", testPassword, "totp", next), http.StatusUnauthorized, "invalid_2fa")

	// A backup code works once.
	bc := codes[3].(string)
	wantStatus(t, third.login("admin@example.test", testPassword, "backupCode", bc), http.StatusOK)
	wantCode(t, e.client().login("admin@example.test", testPassword, "backupCode", bc), http.StatusUnauthorized, "invalid_2fa")

	// Disable needs a current code.
	wantCode(t, other.post("/api/v1/auth/2fa/disable", map[string]string{"code": "000000"}), http.StatusUnauthorized, "invalid_2fa")
	e.clock.Advance(30 * time.Second)
	wantStatus(t, other.post("/api/v1/auth/2fa/disable", map[string]string{"code": code(t, secret, e.clock.Now())}), http.StatusNoContent)
	// An admin without 2FA is back to setup only.
	wantCode(t, other.get("/api/v1/me"), http.StatusForbidden, "2fa_enrolment_required")

	for _, a := range []string{audit.ActionTwoFactorSetup, audit.ActionTwoFactorVerify, audit.ActionTwoFactorDisable} {
		if e.auditCount(a, audit.ResultSuccess) != 1 {
			t.Errorf("audit: %s success events %d, want 1", a, e.auditCount(a, audit.ResultSuccess))
		}
	}
}

func TestEnrolmentEndsEarlierSessions(t *testing.T) {
	e := newEnv(t, relaxed)
	e.createUser("owner@example.test", store.RoleOwner)
	early, c := e.client(), e.client()
	wantStatus(t, early.login("owner@example.test", testPassword), http.StatusOK)
	wantStatus(t, c.login("owner@example.test", testPassword), http.StatusOK)
	secret := c.post("/api/v1/auth/2fa/setup", nil).json(t)["secret"].(string)
	wantStatus(t, c.post("/api/v1/auth/2fa/verify", map[string]string{"code": code(t, secret, e.clock.Now())}), http.StatusOK)
	// The session that logged in without the second factor reaches nothing
	// and cannot refresh into an enrolled one.
	wantCode(t, early.get("/api/v1/me"), http.StatusForbidden, "2fa_enrolment_required")
	wantStatus(t, early.post("/api/v1/auth/refresh", nil), http.StatusUnauthorized)
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)
	wantStatus(t, c.post("/api/v1/auth/refresh", nil), http.StatusOK)
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)
}

// TestLockoutHoldsUnderConcurrentGuesses: attempts are counted before the
// password is checked, so a burst of simultaneous guesses gets no more
// password checks than the threshold, and a right password in the burst
// does not slip through once the lock is placed.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	e := newEnv(t, relaxed)
	e.createUser("target@example.test", store.RoleCustomer)
	const n = 24
	codes := make(chan int, n)
	c := e.client() // one HTTP/2 connection carries the burst
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pw := "wrong password!"
			if i == n-1 {
				pw = testPassword
			}
			body := `{"email":"target@example.test","password":"` + pw + `"}`
			resp, err := c.hc.Post(e.base+"/api/v1/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if checked := count[http.StatusUnauthorized] + count[http.StatusOK]; checked > 5 {
		t.Errorf("%d passwords checked in a burst of %d (%v), want at most the threshold 5", checked, n, count)
	}
	if count[http.StatusLocked] < n-5 {
		t.Errorf("%d attempts refused as locked, want at least %d (%v)", count[http.StatusLocked], n-5, count)
	}
}
