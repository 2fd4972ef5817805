package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var tokenCases = []testCase{
	{"CreateAndRead", testTokenCreateAndRead},
	{"CreateErrors", testTokenCreateErrors},
	{"ListNewestFirst", testTokenList},
	{"Rotate", testTokenRotate},
	{"RotateReuseRevokesFamily", testTokenRotateReuse},
	{"RotateRevokedRevokesFamily", testTokenRotateRevoked},
	{"RotateExpiredChangesNothing", testTokenRotateExpired},
	{"RotateUnknown", testTokenRotateUnknown},
	{"RotateRefusedNextKeepsToken", testTokenRotateRefusedNext},
	{"RotateConcurrent", testTokenRotateConcurrent},
	{"MFAFollowsTheFamily", testTokenMFA},
	{"Revoke", testTokenRevoke},
	{"RevokeFamily", testTokenRevokeFamily},
	{"RevokeUser", testTokenRevokeUser},
	{"DeleteExpired", testTokenDeleteExpired},
	{"RevokedFamilies", testTokenRevokedFamilies},
}

const day = 24 * time.Hour

// checkToken compares two tokens field by field, times as stored.
func checkToken(t *testing.T, what string, got, want store.RefreshToken) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.FamilyID != want.FamilyID || !bytes.Equal(got.TokenHash, want.TokenHash) {
		t.Errorf("%s: got id %s user %s family %s hash %x, want id %s user %s family %s hash %x", what,
			got.ID, got.UserID, got.FamilyID, got.TokenHash, want.ID, want.UserID, want.FamilyID, want.TokenHash)
	}
	if got.MFA != want.MFA {
		t.Errorf("%s: MFA %v, want %v", what, got.MFA, want.MFA)
	}
	checkTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTimePtr(t, what+" UsedAt", got.UsedAt, want.UsedAt)
	checkTimePtr(t, what+" RevokedAt", got.RevokedAt, want.RevokedAt)
}

// login stores a token for userID as a login at created would.
func login(t *testing.T, s store.Store, userID, label string, created time.Time) store.RefreshToken {
	t.Helper()
	tok, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{
		UserID: userID, TokenHash: tokenHash(label), CreatedAt: created, ExpiresAt: created.Add(30 * day),
	})
	must(t, "CreateRefreshToken "+label, err)
	return tok
}

// next is the token a rotation at now stores.
func next(label string, now time.Time) store.RefreshToken {
	return store.RefreshToken{TokenHash: tokenHash(label), CreatedAt: now, ExpiresAt: now.Add(30 * day)}
}

func mustToken(t *testing.T, s store.Store, hash []byte) store.RefreshToken {
	t.Helper()
	tok, err := s.RefreshTokenByHash(t.Context(), hash)
	must(t, "RefreshTokenByHash", err)
	return tok
}

func wantNoToken(t *testing.T, s store.Store, label string) {
	t.Helper()
	_, err := s.RefreshTokenByHash(t.Context(), tokenHash(label))
	wantErr(t, "RefreshTokenByHash of "+label+", which must not be stored", err, store.ErrNotFound)
}

func testTokenCreateAndRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	in := store.RefreshToken{
		UserID: u.ID, TokenHash: tokenHash("a"), CreatedAt: t0, ExpiresAt: at(30 * day),
		UsedAt: ptr(t0), RevokedAt: ptr(t0), // ignored: a new token is neither
	}
	a, err := s.CreateRefreshToken(ctx, in)
	must(t, "CreateRefreshToken", err)
	if a.ID == "" || a.FamilyID == "" {
		t.Fatalf("CreateRefreshToken = %+v, want a generated id and family", a)
	}
	want := store.RefreshToken{ID: a.ID, UserID: u.ID, FamilyID: a.FamilyID, TokenHash: tokenHash("a"), CreatedAt: t0, ExpiresAt: at(30 * day)}
	checkToken(t, "CreateRefreshToken", a, want)
	checkToken(t, "RefreshTokenByHash", mustToken(t, s, tokenHash("a")), want)
	if !a.Active(t0) {
		t.Error("a new token is not Active")
	}

	// Another login starts another family; a caller's id and family are kept.
	b := login(t, s, u.ID, "b", t0)
	if b.FamilyID == a.FamilyID || b.ID == a.ID {
		t.Errorf("two logins share id or family: %s/%s and %s/%s", a.ID, a.FamilyID, b.ID, b.FamilyID)
	}
	c, err := s.CreateRefreshToken(ctx, store.RefreshToken{ID: "tok-c", FamilyID: "fam-c", UserID: u.ID,
		TokenHash: tokenHash("c"), CreatedAt: t0, ExpiresAt: at(day)})
	must(t, "CreateRefreshToken with id and family", err)
	if c.ID != "tok-c" || c.FamilyID != "fam-c" {
		t.Errorf("CreateRefreshToken = %s/%s, want the caller's tok-c/fam-c", c.ID, c.FamilyID)
	}
}

func testTokenCreateErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)

	_, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: store.NewID(), TokenHash: tokenHash("x"), CreatedAt: t0, ExpiresAt: at(day)})
	wantErr(t, "CreateRefreshToken for an unknown user", err, store.ErrNotFound)
	_, err = s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: a.TokenHash, CreatedAt: t0, ExpiresAt: at(day)})
	wantErr(t, "CreateRefreshToken with a stored hash", err, store.ErrConflict)

	valid := store.RefreshToken{UserID: u.ID, TokenHash: tokenHash("y"), CreatedAt: t0, ExpiresAt: at(day)}
	for name, edit := range map[string]func(*store.RefreshToken){
		"no user":                func(r *store.RefreshToken) { r.UserID = "" },
		"a short hash":           func(r *store.RefreshToken) { r.TokenHash = r.TokenHash[:31] },
		"no hash":                func(r *store.RefreshToken) { r.TokenHash = nil },
		"no creation time":       func(r *store.RefreshToken) { r.CreatedAt = time.Time{} },
		"expiry at creation":     func(r *store.RefreshToken) { r.ExpiresAt = r.CreatedAt },
		"expiry before creation": func(r *store.RefreshToken) { r.ExpiresAt = r.CreatedAt.Add(-time.Second) },
	} {
		r := valid
		edit(&r)
		_, err := s.CreateRefreshToken(ctx, r)
		wantErr(t, "CreateRefreshToken with "+name, err, store.ErrInvalid)
	}
	wantNoToken(t, s, "x")
	wantNoToken(t, s, "y")
	if toks, err := s.ListRefreshTokens(ctx, u.ID); err != nil || len(toks) != 1 {
		t.Errorf("ListRefreshTokens = %d tokens, %v; want only the first", len(toks), err)
	}
}

func testTokenList(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleCustomer)
	mid := login(t, s, u.ID, "mid", at(time.Hour))
	old := login(t, s, u.ID, "old", t0)
	newest := login(t, s, u.ID, "new", at(2*time.Hour))
	login(t, s, other.ID, "other", at(3*time.Hour))

	toks, err := s.ListRefreshTokens(ctx, u.ID)
	must(t, "ListRefreshTokens", err)
	want := []store.RefreshToken{newest, mid, old}
	if len(toks) != len(want) {
		t.Fatalf("ListRefreshTokens = %d tokens, want %d", len(toks), len(want))
	}
	for i := range want {
		checkToken(t, fmt.Sprintf("ListRefreshTokens[%d]", i), toks[i], want[i])
	}
	toks, err = s.ListRefreshTokens(ctx, store.NewID())
	must(t, "ListRefreshTokens of an unknown user", err)
	if len(toks) != 0 {
		t.Errorf("ListRefreshTokens of an unknown user = %d tokens", len(toks))
	}
}

func testTokenRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleCustomer)
	a := login(t, s, u.ID, "a", t0)

	now := at(time.Hour)
	// The user and family come from the spent token, whatever next says.
	n := next("b", now)
	n.UserID, n.FamilyID = other.ID, "someone-elses-family"
	b, err := s.RotateRefreshToken(ctx, a.TokenHash, n, now)
	must(t, "RotateRefreshToken", err)
	if b.ID == "" || b.ID == a.ID {
		t.Errorf("rotated token id %q, want a new generated id", b.ID)
	}
	wantB := store.RefreshToken{ID: b.ID, UserID: u.ID, FamilyID: a.FamilyID, TokenHash: tokenHash("b"), CreatedAt: now, ExpiresAt: now.Add(30 * day)}
	checkToken(t, "rotated token", b, wantB)
	checkToken(t, "rotated token read back", mustToken(t, s, tokenHash("b")), wantB)
	wantA := a
	wantA.UsedAt = &now
	checkToken(t, "spent token", mustToken(t, s, a.TokenHash), wantA)

	// And on: the new token rotates too, with the caller's id.
	later := at(2 * time.Hour)
	n = next("c", later)
	n.ID = "tok-c"
	c, err := s.RotateRefreshToken(ctx, b.TokenHash, n, later)
	must(t, "RotateRefreshToken of the rotated token", err)
	if c.ID != "tok-c" || c.FamilyID != a.FamilyID || c.UserID != u.ID {
		t.Errorf("second rotation = %s/%s/%s, want tok-c in family %s of user %s", c.ID, c.FamilyID, c.UserID, a.FamilyID, u.ID)
	}
	toks, err := s.ListRefreshTokens(ctx, u.ID)
	must(t, "ListRefreshTokens", err)
	if len(toks) != 3 {
		t.Errorf("ListRefreshTokens = %d tokens after two rotations, want 3", len(toks))
	}
	if toks, _ := s.ListRefreshTokens(ctx, other.ID); len(toks) != 0 {
		t.Errorf("a rotation stored %d tokens for the user named in next", len(toks))
	}
}

func testTokenRotateReuse(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)
	elsewhere := login(t, s, u.ID, "elsewhere", t0) // another login of the same user
	rotatedAt := at(time.Hour)
	b, err := s.RotateRefreshToken(ctx, a.TokenHash, next("b", rotatedAt), rotatedAt)
	must(t, "RotateRefreshToken", err)

	// a again: stolen and replayed, or the legitimate client after a thief.
	reusedAt := at(2 * time.Hour)
	got, err := s.RotateRefreshToken(ctx, a.TokenHash, next("c", reusedAt), reusedAt)
	wantErr(t, "RotateRefreshToken of a spent token", err, store.ErrTokenReuse)
	if got.ID != a.ID || got.UserID != u.ID || got.FamilyID != a.FamilyID {
		t.Errorf("RotateRefreshToken with ErrTokenReuse returned %+v, want the presented token %s", got, a.ID)
	}
	wantNoToken(t, s, "c")

	// The revocation was committed despite the error.
	wantA := a
	wantA.UsedAt, wantA.RevokedAt = &rotatedAt, &reusedAt
	checkToken(t, "reused token", mustToken(t, s, a.TokenHash), wantA)
	wantB := b
	wantB.RevokedAt = &reusedAt
	checkToken(t, "its successor", mustToken(t, s, b.TokenHash), wantB)
	checkToken(t, "another family", mustToken(t, s, elsewhere.TokenHash), elsewhere)

	// The successor, presented next, is refused as revoked.
	_, err = s.RotateRefreshToken(ctx, b.TokenHash, next("d", at(3*time.Hour)), at(3*time.Hour))
	wantErr(t, "RotateRefreshToken of the successor", err, store.ErrTokenRevoked)
	wantNoToken(t, s, "d")
}

func testTokenRotateRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)
	rotatedAt := at(time.Hour)
	b, err := s.RotateRefreshToken(ctx, a.TokenHash, next("b", rotatedAt), rotatedAt)
	must(t, "RotateRefreshToken", err)
	loggedOutAt := at(2 * time.Hour)
	_, err = s.RevokeRefreshToken(ctx, b.TokenHash, loggedOutAt)
	must(t, "RevokeRefreshToken", err)

	presentedAt := at(3 * time.Hour)
	got, err := s.RotateRefreshToken(ctx, b.TokenHash, next("c", presentedAt), presentedAt)
	wantErr(t, "RotateRefreshToken of a revoked token", err, store.ErrTokenRevoked)
	if got.ID != b.ID || got.UserID != u.ID || got.FamilyID != a.FamilyID {
		t.Errorf("RotateRefreshToken with ErrTokenRevoked returned %+v, want the presented token %s", got, b.ID)
	}
	wantNoToken(t, s, "c")
	// The rest of the family is revoked now; b keeps its logout time.
	wantA := a
	wantA.UsedAt, wantA.RevokedAt = &rotatedAt, &presentedAt
	checkToken(t, "the family's first token", mustToken(t, s, a.TokenHash), wantA)
	wantB := b
	wantB.RevokedAt = &loggedOutAt
	checkToken(t, "the revoked token", mustToken(t, s, b.TokenHash), wantB)
}

func testTokenRotateExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	expires := time.Date(2031, 4, 1, 12, 0, 0, 250_000, time.UTC) // a whole microsecond count
	a, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: tokenHash("a"), CreatedAt: t0, ExpiresAt: expires})
	must(t, "CreateRefreshToken", err)

	for _, now := range []time.Time{expires, expires.Add(999 * time.Nanosecond), expires.Add(day)} {
		got, err := s.RotateRefreshToken(ctx, a.TokenHash, next("b", now), now)
		wantErr(t, fmt.Sprintf("RotateRefreshToken at %s", now.Format(time.RFC3339Nano)), err, store.ErrTokenExpired)
		if got.ID != a.ID || got.UserID != u.ID || got.FamilyID != a.FamilyID {
			t.Errorf("RotateRefreshToken with ErrTokenExpired returned %+v, want the presented token %s", got, a.ID)
		}
	}
	wantNoToken(t, s, "b")
	checkToken(t, "expired token", mustToken(t, s, a.TokenHash), a)

	// Nothing changed: a microsecond before expiry it still rotates.
	now := expires.Add(-time.Microsecond)
	_, err = s.RotateRefreshToken(ctx, a.TokenHash, next("b", now), now)
	must(t, "RotateRefreshToken just before expiry", err)
}

func testTokenRotateUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	login(t, s, u.ID, "a", t0)
	_, err := s.RotateRefreshToken(ctx, tokenHash("never-issued"), next("b", at(time.Hour)), at(time.Hour))
	wantErr(t, "RotateRefreshToken of an unknown hash", err, store.ErrNotFound)
	wantNoToken(t, s, "b")
}

func testTokenRotateRefusedNext(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)
	taken := login(t, s, u.ID, "taken", t0)
	now := at(time.Hour)

	invalid := map[string]store.RefreshToken{
		"no hash":            {CreatedAt: now, ExpiresAt: now.Add(day)},
		"a short hash":       {TokenHash: tokenHash("b")[:16], CreatedAt: now, ExpiresAt: now.Add(day)},
		"no creation time":   {TokenHash: tokenHash("b"), ExpiresAt: now.Add(day)},
		"no expiry":          {TokenHash: tokenHash("b"), CreatedAt: now},
		"expiry at creation": {TokenHash: tokenHash("b"), CreatedAt: now, ExpiresAt: now},
	}
	for name, n := range invalid {
		_, err := s.RotateRefreshToken(ctx, a.TokenHash, n, now)
		wantErr(t, "RotateRefreshToken with next of "+name, err, store.ErrInvalid)
	}
	_, err := s.RotateRefreshToken(ctx, a.TokenHash, next("taken", now), now)
	wantErr(t, "RotateRefreshToken with a taken next hash", err, store.ErrConflict)
	_, err = s.RotateRefreshToken(ctx, a.TokenHash, next("a", now), now)
	wantErr(t, "RotateRefreshToken with next = the presented hash", err, store.ErrConflict)

	checkToken(t, "presented token after refused rotations", mustToken(t, s, a.TokenHash), a)
	checkToken(t, "the token whose hash was taken", mustToken(t, s, taken.TokenHash), taken)
	wantNoToken(t, s, "b")
	// Still unspent, so it rotates.
	_, err = s.RotateRefreshToken(ctx, a.TokenHash, next("b", now), now)
	must(t, "RotateRefreshToken after refused rotations", err)
}

func testTokenRotateConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	now := at(time.Hour)
	// Several rounds, each a fresh token rotated by raceN goroutines at
	// once: a check-then-write race does not show in every round.
	for round := range raceRounds {
		a := login(t, s, u.ID, fmt.Sprint("a-", round), t0)
		label := func(i int) string { return fmt.Sprintf("next-%d-%d", round, i) }
		rotated := make([]store.RefreshToken, raceN)
		errs := make([]error, raceN)
		race(raceN, func(i int) {
			rotated[i], errs[i] = s.RotateRefreshToken(ctx, a.TokenHash, next(label(i), now), now)
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d: rotations %d and %d of one token both succeeded", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrTokenReuse):
				t.Errorf("round %d: losing rotation %d: error %v, want %v", round, i, err, store.ErrTokenReuse)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: none of %d concurrent rotations succeeded: %v", round, raceN, errs)
		}
		// The token was spent once: its family holds it and one successor,
		// revoked by the losers, which were reuses.
		toks, err := s.ListRefreshTokens(ctx, u.ID)
		must(t, "ListRefreshTokens", err)
		inFamily := 0
		for _, tok := range toks {
			if tok.FamilyID == a.FamilyID {
				inFamily++
			}
		}
		if inFamily != 2 {
			t.Errorf("round %d: the family holds %d tokens after %d concurrent rotations, want 2", round, inFamily, raceN)
		}
		succ := mustToken(t, s, tokenHash(label(winner)))
		if succ.ID != rotated[winner].ID || succ.RevokedAt == nil {
			t.Errorf("round %d: the winner's successor = %+v, want it stored and revoked by the losers' reuse", round, succ)
		}
	}
}

func testTokenRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)
	b := login(t, s, u.ID, "b", t0)

	first := at(time.Hour)
	got, err := s.RevokeRefreshToken(ctx, a.TokenHash, first)
	must(t, "RevokeRefreshToken", err)
	want := a
	want.RevokedAt = &first
	checkToken(t, "RevokeRefreshToken result", got, want)
	checkToken(t, "revoked token read back", mustToken(t, s, a.TokenHash), want)

	got, err = s.RevokeRefreshToken(ctx, a.TokenHash, at(2*time.Hour))
	must(t, "RevokeRefreshToken again", err)
	checkToken(t, "second RevokeRefreshToken result", got, want)
	checkToken(t, "token revoked twice", mustToken(t, s, a.TokenHash), want)
	checkToken(t, "another token", mustToken(t, s, b.TokenHash), b)

	_, err = s.RevokeRefreshToken(ctx, tokenHash("unknown"), first)
	wantErr(t, "RevokeRefreshToken of an unknown hash", err, store.ErrNotFound)
}

func testTokenRevokeFamily(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	a := login(t, s, u.ID, "a", t0)
	b, err := s.RotateRefreshToken(ctx, a.TokenHash, next("b", at(time.Hour)), at(time.Hour))
	must(t, "RotateRefreshToken", err)
	c, err := s.RotateRefreshToken(ctx, b.TokenHash, next("c", at(2*time.Hour)), at(2*time.Hour))
	must(t, "RotateRefreshToken", err)
	loggedOut := at(3 * time.Hour)
	_, err = s.RevokeRefreshToken(ctx, c.TokenHash, loggedOut)
	must(t, "RevokeRefreshToken", err)
	other := login(t, s, u.ID, "other", t0)

	revokedAt := at(4 * time.Hour)
	n, err := s.RevokeRefreshFamily(ctx, a.FamilyID, revokedAt)
	must(t, "RevokeRefreshFamily", err)
	if n != 2 {
		t.Errorf("RevokeRefreshFamily = %d, want 2 (a and b; c was revoked before)", n)
	}
	checkTimePtr(t, "a RevokedAt", mustToken(t, s, a.TokenHash).RevokedAt, &revokedAt)
	checkTimePtr(t, "b RevokedAt", mustToken(t, s, b.TokenHash).RevokedAt, &revokedAt)
	checkTimePtr(t, "c RevokedAt", mustToken(t, s, c.TokenHash).RevokedAt, &loggedOut)
	checkToken(t, "another family", mustToken(t, s, other.TokenHash), other)

	n, err = s.RevokeRefreshFamily(ctx, a.FamilyID, at(5*time.Hour))
	must(t, "RevokeRefreshFamily again", err)
	if n != 0 {
		t.Errorf("RevokeRefreshFamily of a revoked family = %d, want 0", n)
	}
	n, err = s.RevokeRefreshFamily(ctx, store.NewID(), at(5*time.Hour))
	must(t, "RevokeRefreshFamily of an unknown family", err)
	if n != 0 {
		t.Errorf("RevokeRefreshFamily of an unknown family = %d, want 0", n)
	}
}

func testTokenRevokeUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleCustomer)
	a := login(t, s, u.ID, "a", t0)
	login(t, s, u.ID, "b", t0)
	c := login(t, s, u.ID, "c", t0)
	_, err := s.RotateRefreshToken(ctx, c.TokenHash, next("c2", at(time.Minute)), at(time.Minute))
	must(t, "RotateRefreshToken", err)
	loggedOut := at(time.Hour)
	_, err = s.RevokeRefreshToken(ctx, a.TokenHash, loggedOut)
	must(t, "RevokeRefreshToken", err)
	others := login(t, s, other.ID, "others", t0)

	revokedAt := at(2 * time.Hour)
	n, err := s.RevokeUserRefreshTokens(ctx, u.ID, revokedAt)
	must(t, "RevokeUserRefreshTokens", err)
	if n != 3 {
		t.Errorf("RevokeUserRefreshTokens = %d, want 3 (b, c, c2; a was revoked before)", n)
	}
	checkTimePtr(t, "a RevokedAt", mustToken(t, s, a.TokenHash).RevokedAt, &loggedOut)
	for _, label := range []string{"b", "c", "c2"} {
		checkTimePtr(t, label+" RevokedAt", mustToken(t, s, tokenHash(label)).RevokedAt, &revokedAt)
	}
	checkToken(t, "another user's token", mustToken(t, s, others.TokenHash), others)

	n, err = s.RevokeUserRefreshTokens(ctx, u.ID, at(3*time.Hour))
	must(t, "RevokeUserRefreshTokens again", err)
	if n != 0 {
		t.Errorf("RevokeUserRefreshTokens again = %d, want 0", n)
	}
}

func testTokenDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	now := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	for label, expires := range map[string]time.Time{
		"long-gone": now.Add(-day), "just-gone": now.Add(-time.Microsecond), "now": now,
		"just-alive": now.Add(time.Microsecond), "alive": now.Add(day),
	} {
		_, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: tokenHash(label), CreatedAt: t0, ExpiresAt: expires})
		must(t, "CreateRefreshToken "+label, err)
	}
	// A spent and a revoked token are deleted on expiry like any other.
	_, err := s.RevokeRefreshToken(ctx, tokenHash("just-gone"), t0)
	must(t, "RevokeRefreshToken", err)

	n, err := s.DeleteExpiredRefreshTokens(ctx, now)
	must(t, "DeleteExpiredRefreshTokens", err)
	if n != 3 {
		t.Errorf("DeleteExpiredRefreshTokens = %d, want 3 (expiring at or before now)", n)
	}
	for _, gone := range []string{"long-gone", "just-gone", "now"} {
		wantNoToken(t, s, gone)
	}
	for _, alive := range []string{"just-alive", "alive"} {
		mustToken(t, s, tokenHash(alive))
	}
	n, err = s.DeleteExpiredRefreshTokens(ctx, now)
	must(t, "DeleteExpiredRefreshTokens again", err)
	if n != 0 {
		t.Errorf("DeleteExpiredRefreshTokens again = %d, want 0", n)
	}
}

// testTokenMFA: the MFA flag is stored at login and carried by every
// rotation from the spent token, never taken from next.
func testTokenMFA(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	withMFA, err := s.CreateRefreshToken(ctx, store.RefreshToken{
		UserID: u.ID, TokenHash: tokenHash("m1"), MFA: true, CreatedAt: t0, ExpiresAt: t0.Add(30 * day),
	})
	must(t, "CreateRefreshToken with MFA", err)
	if !withMFA.MFA || !mustToken(t, s, tokenHash("m1")).MFA {
		t.Fatal("MFA not stored")
	}
	n := next("m2", at(time.Hour)) // next says no MFA: ignored
	rotated, err := s.RotateRefreshToken(ctx, withMFA.TokenHash, n, at(time.Hour))
	must(t, "RotateRefreshToken", err)
	if !rotated.MFA || !mustToken(t, s, tokenHash("m2")).MFA {
		t.Error("rotation dropped the family's MFA")
	}
	without := login(t, s, u.ID, "p1", t0)
	n = next("p2", at(time.Hour))
	n.MFA = true // next claims MFA: ignored
	rotated, err = s.RotateRefreshToken(ctx, without.TokenHash, n, at(time.Hour))
	must(t, "RotateRefreshToken", err)
	if rotated.MFA || mustToken(t, s, tokenHash("p2")).MFA {
		t.Error("rotation granted MFA to a family started without it")
	}
}

// testTokenRevokedFamilies: the sessions revoked since a time, each once,
// with its latest revocation, in family-id order; older revocations and
// live sessions are not listed.
func testTokenRevokedFamilies(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleCustomer)

	// old: logged out long ago.
	old := login(t, s, u.ID, "old", t0)
	_, err := s.RevokeRefreshToken(ctx, old.TokenHash, at(time.Hour))
	must(t, "RevokeRefreshToken old", err)
	// out: rotated once, then logged out; later the whole family too.
	out := login(t, s, u.ID, "out", t0)
	outNext, err := s.RotateRefreshToken(ctx, out.TokenHash, next("out2", at(2*time.Hour)), at(2*time.Hour))
	must(t, "RotateRefreshToken out", err)
	_, err = s.RevokeRefreshToken(ctx, outNext.TokenHash, at(3*time.Hour))
	must(t, "RevokeRefreshToken out2", err)
	// reused: a spent token replayed revokes the family.
	reused := login(t, s, other.ID, "reused", t0)
	_, err = s.RotateRefreshToken(ctx, reused.TokenHash, next("reused2", at(time.Hour)), at(time.Hour))
	must(t, "RotateRefreshToken reused", err)
	_, err = s.RotateRefreshToken(ctx, reused.TokenHash, next("reused3", at(4*time.Hour)), at(4*time.Hour))
	wantErr(t, "RotateRefreshToken of a spent token", err, store.ErrTokenReuse)
	// live: never revoked.
	login(t, s, u.ID, "live", t0)

	want := []store.RevokedFamily{
		{FamilyID: out.FamilyID, RevokedAt: stored(at(3 * time.Hour))},
		{FamilyID: reused.FamilyID, RevokedAt: stored(at(4 * time.Hour))},
	}
	slices.SortFunc(want, func(a, b store.RevokedFamily) int { return strings.Compare(a.FamilyID, b.FamilyID) })
	check := func(what string, since time.Time, want []store.RevokedFamily) {
		t.Helper()
		got, err := s.RevokedFamilies(ctx, since)
		must(t, "RevokedFamilies "+what, err)
		if got == nil {
			t.Errorf("RevokedFamilies %s = nil, want an empty slice at least", what)
		}
		if len(got) != len(want) {
			t.Fatalf("RevokedFamilies %s = %+v, want %+v", what, got, want)
		}
		for i := range got {
			if got[i].FamilyID != want[i].FamilyID || !got[i].RevokedAt.Equal(want[i].RevokedAt) || got[i].RevokedAt.Location() != time.UTC {
				t.Errorf("RevokedFamilies %s [%d] = %+v, want %+v (UTC)", what, i, got[i], want[i])
			}
		}
	}
	check("since 2h", at(2*time.Hour), want)
	check("since 3h (inclusive)", stored(at(3*time.Hour)), want)
	check("since 5h", at(5*time.Hour), nil)

	// Revoking the rest of "out" later moves its latest revocation.
	_, err = s.RevokeRefreshFamily(ctx, out.FamilyID, at(6*time.Hour))
	must(t, "RevokeRefreshFamily out", err)
	check("since 5h after a family revocation", at(5*time.Hour), []store.RevokedFamily{{FamilyID: out.FamilyID, RevokedAt: stored(at(6 * time.Hour))}})
}
