package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/store"
)

// TestRestoreRevocationsAfterRestart: a node restarted with an empty
// in-memory revocation list puts back the sessions that ended within an
// access token's lifetime, so a logged-out token stays dead; live sessions
// and sessions that ended long ago are not listed.
func TestRestoreRevocationsAfterRestart(t *testing.T) {
	var opts server.Options
	e := newEnv(t, func(o *server.Options) { opts = *o })
	u := e.createUser("tech@example.test", store.RoleTechnician)

	out := e.client()
	r := out.login(u.Email, testPassword)
	wantStatus(t, r, http.StatusOK)
	tok := r.json(t)["accessToken"].(string)
	wantStatus(t, out.post("/api/v1/auth/logout", nil), http.StatusNoContent)
	wantCode(t, e.client().get("/api/v1/me", "Authorization", "Bearer "+tok), http.StatusUnauthorized, "session_revoked")
	live := e.client()
	wantStatus(t, live.login(u.Email, testPassword), http.StatusOK)

	tokens, err := e.store.ListRefreshTokens(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ended, running string
	for _, rt := range tokens {
		if rt.RevokedAt != nil {
			ended = rt.FamilyID
		} else {
			running = rt.FamilyID
		}
	}
	if ended == "" || running == "" {
		t.Fatalf("tokens %+v: want one revoked and one live session", tokens)
	}

	// "Restart": the same store and keys, a new empty list.
	restarted := func() (*server.Server, revoke.List) {
		o := opts
		o.Revoked = revoke.NewMemory()
		srv, err := server.New(o)
		if err != nil {
			t.Fatal(err)
		}
		return srv, o.Revoked
	}
	srv, list := restarted()
	if revoked, _ := list.Revoked(t.Context(), ended, e.clock.Now()); revoked {
		t.Fatal("a new list already knows the session: the test proves nothing")
	}
	n, err := srv.RestoreRevocations(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("RestoreRevocations = %d, %v; want 1", n, err)
	}
	if revoked, _ := list.Revoked(t.Context(), ended, e.clock.Now()); !revoked {
		t.Error("the logged-out session is not revoked after the restart")
	}
	if revoked, _ := list.Revoked(t.Context(), running, e.clock.Now()); revoked {
		t.Error("the live session was revoked by the restart")
	}

	// Once every access token of the ended session has expired, there is
	// nothing to restore.
	e.clock.Advance(opts.AccessTTL + 2*time.Minute)
	srv, _ = restarted()
	if n, err := srv.RestoreRevocations(t.Context()); err != nil || n != 0 {
		t.Errorf("RestoreRevocations after the access lifetime = %d, %v; want 0", n, err)
	}
}
