package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var userCases = []testCase{
	{"CreateAndRead", testUserCreateAndRead},
	{"CreateConflict", testUserCreateConflict},
	{"CreateUnknownOrganisation", testUserCreateUnknownOrganisation},
	{"CreateInvalid", testUserCreateInvalid},
	{"NotFound", testUserNotFound},
	{"List", testUserList},
	{"SetRole", testUserSetRole},
	{"SetDisabledRevokesTokens", testUserSetDisabled},
	{"SetPasswordHash", testUserSetPasswordHash},
}

// checkUser compares two users field by field, times as stored.
func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	if got.ID != want.ID || got.OrgID != want.OrgID || got.Email != want.Email || got.PasswordHash != want.PasswordHash ||
		got.Role != want.Role || got.Disabled != want.Disabled || got.TwoFactorEnabled != want.TwoFactorEnabled {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	checkTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func testUserCreateAndRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := mustOrg(t, s, "Acme")
	n, err := s.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 0 {
		t.Fatalf("CountUsers on an empty store = %d", n)
	}

	in := store.User{
		OrgID: org.ID, Email: "  Alice.Smith@Example.COM ", PasswordHash: "$argon2id$v=19$opaque",
		Role: store.RoleManager, Disabled: true, TwoFactorEnabled: true,
		CreatedAt: t0, UpdatedAt: at(48 * time.Hour),
	}
	got, err := s.CreateUser(ctx, in)
	must(t, "CreateUser", err)
	want := store.User{
		ID: got.ID, OrgID: org.ID, Email: "alice.smith@example.com", PasswordHash: in.PasswordHash,
		Role: store.RoleManager, Disabled: true,
		TwoFactorEnabled: false, // only the TOTP methods set it
		CreatedAt:        t0, UpdatedAt: t0,
	}
	if got.ID == "" {
		t.Error("CreateUser left the id empty; want a generated one")
	}
	checkUser(t, "CreateUser", got, want)

	byID, err := s.UserByID(ctx, got.ID)
	must(t, "UserByID", err)
	checkUser(t, "UserByID", byID, want)
	for _, email := range []string{"alice.smith@example.com", "ALICE.SMITH@EXAMPLE.COM", "\tAlice.Smith@example.com "} {
		byEmail, err := s.UserByEmail(ctx, email)
		must(t, "UserByEmail "+email, err)
		checkUser(t, "UserByEmail "+email, byEmail, want)
	}

	mine, err := s.CreateUser(ctx, store.User{
		ID: "user-fixed", OrgID: org.ID, Email: "bob@example.com", PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0,
	})
	must(t, "CreateUser with id", err)
	if mine.ID != "user-fixed" {
		t.Errorf("ID = %q, want the caller's user-fixed", mine.ID)
	}
	n, err = s.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 2 {
		t.Errorf("CountUsers = %d, want 2", n)
	}
}

func testUserCreateConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := mustOrg(t, s, "Acme")
	first := mustUser(t, s, org.ID, "carol@example.com", store.RoleTechnician)

	for _, email := range []string{"carol@example.com", "Carol@Example.com", " CAROL@EXAMPLE.COM "} {
		_, err := s.CreateUser(ctx, store.User{OrgID: org.ID, Email: email, PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0})
		wantErr(t, "CreateUser with taken e-mail "+email, err, store.ErrConflict)
	}
	_, err := s.CreateUser(ctx, store.User{ID: first.ID, OrgID: org.ID, Email: "dave@example.com", PasswordHash: "h",
		Role: store.RoleCustomer, CreatedAt: t0})
	wantErr(t, "CreateUser with a taken id", err, store.ErrConflict)

	n, err := s.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 1 {
		t.Errorf("CountUsers after the conflicts = %d, want 1", n)
	}
	u, err := s.UserByEmail(ctx, "carol@example.com")
	must(t, "UserByEmail", err)
	checkUser(t, "the first user after the conflicts", u, first)
}

func testUserCreateUnknownOrganisation(t *testing.T, s store.Store) {
	mustOrg(t, s, "Acme")
	_, err := s.CreateUser(t.Context(), store.User{OrgID: store.NewID(), Email: "erin@example.com", PasswordHash: "h",
		Role: store.RoleCustomer, CreatedAt: t0})
	wantErr(t, "CreateUser in an unknown organisation", err, store.ErrNotFound)
	_, err = s.UserByEmail(t.Context(), "erin@example.com")
	wantErr(t, "UserByEmail of the refused user", err, store.ErrNotFound)
}

func testUserCreateInvalid(t *testing.T, s store.Store) {
	org := mustOrg(t, s, "Acme")
	valid := store.User{OrgID: org.ID, Email: "frank@example.com", PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0}
	tests := []struct {
		name string
		edit func(u *store.User)
	}{
		{"empty e-mail", func(u *store.User) { u.Email = "  " }},
		{"no @", func(u *store.User) { u.Email = "frank.example.com" }},
		{"no local part", func(u *store.User) { u.Email = "@example.com" }},
		{"no domain", func(u *store.User) { u.Email = "frank@" }},
		{"space inside", func(u *store.User) { u.Email = "fr ank@example.com" }},
		{"control character", func(u *store.User) { u.Email = "fr\x00ank@example.com" }},
		{"too long", func(u *store.User) { u.Email = strings.Repeat("f", 250) + "@x.io" }},
		{"no organisation", func(u *store.User) { u.OrgID = "" }},
		{"no role", func(u *store.User) { u.Role = "" }},
		{"unknown role", func(u *store.User) { u.Role = "root" }},
		{"no password hash", func(u *store.User) { u.PasswordHash = "" }},
		{"zero creation time", func(u *store.User) { u.CreatedAt = time.Time{} }},
	}
	for _, tt := range tests {
		u := valid
		tt.edit(&u)
		_, err := s.CreateUser(t.Context(), u)
		wantErr(t, "CreateUser with "+tt.name, err, store.ErrInvalid)
	}
	n, err := s.CountUsers(t.Context())
	must(t, "CountUsers", err)
	if n != 0 {
		t.Errorf("CountUsers = %d after only invalid users, want 0", n)
	}
	// The valid one passes, so the refusals above were about the edits.
	_, err = s.CreateUser(t.Context(), valid)
	must(t, "CreateUser (valid)", err)
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	userFixture(t, s)
	unknown := store.NewID()
	_, err := s.UserByID(ctx, unknown)
	wantErr(t, "UserByID", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantErr(t, "UserByEmail", err, store.ErrNotFound)
	_, err = s.SetRole(ctx, unknown, store.RoleAdmin, t0)
	wantErr(t, "SetRole", err, store.ErrNotFound)
	err = s.SetDisabled(ctx, unknown, true, t0)
	wantErr(t, "SetDisabled", err, store.ErrNotFound)
	err = s.SetPasswordHash(ctx, unknown, "h2", t0)
	wantErr(t, "SetPasswordHash", err, store.ErrNotFound)
}

func testUserList(t *testing.T, s store.Store) {
	ctx := t.Context()
	acme, beta := mustOrg(t, s, "Acme"), mustOrg(t, s, "Beta")
	// E-mails whose byte order differs from a natural-language collation.
	users := []struct {
		org   string
		email string
		role  store.Role
	}{
		{acme.ID, "ab@example.com", store.RoleTechnician},
		{acme.ID, "a.b@example.com", store.RoleCustomer},
		{acme.ID, "a_b@example.com", store.RoleTechnician},
		{beta.ID, "zed@example.com", store.RoleTechnician},
		{beta.ID, "a-z@example.com", store.RoleAdmin},
		{acme.ID, "b@example.com", store.RoleOwner},
	}
	for _, u := range users {
		mustUser(t, s, u.org, u.email, u.role)
	}
	emails := func(us []store.User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.Email)
		}
		return out
	}
	want := func(keep func(org string, role store.Role) bool) []string {
		var out []string
		for _, u := range users {
			if keep(u.org, u.role) {
				out = append(out, u.email)
			}
		}
		slices.Sort(out)
		return out
	}

	tests := []struct {
		name string
		f    store.UserFilter
		want []string
	}{
		{"all", store.UserFilter{}, want(func(string, store.Role) bool { return true })},
		{"organisation", store.UserFilter{OrgID: acme.ID}, want(func(o string, _ store.Role) bool { return o == acme.ID })},
		{"role", store.UserFilter{Role: store.RoleTechnician}, want(func(_ string, r store.Role) bool { return r == store.RoleTechnician })},
		{"organisation and role", store.UserFilter{OrgID: beta.ID, Role: store.RoleTechnician}, []string{"zed@example.com"}},
		{"limit", store.UserFilter{Limit: 2}, []string{"a-z@example.com", "a.b@example.com"}},
		{"after", store.UserFilter{AfterEmail: "a_b@example.com"}, []string{"ab@example.com", "b@example.com", "zed@example.com"}},
		{"after and limit", store.UserFilter{OrgID: acme.ID, AfterEmail: "a.b@example.com", Limit: 1}, []string{"a_b@example.com"}},
		{"no match", store.UserFilter{Role: store.RoleManager}, []string{}},
		{"unknown organisation", store.UserFilter{OrgID: store.NewID()}, []string{}},
	}
	for _, tt := range tests {
		got, err := s.ListUsers(ctx, tt.f)
		must(t, "ListUsers "+tt.name, err)
		if g := emails(got); !slices.Equal(g, tt.want) {
			t.Errorf("ListUsers %s = %q, want %q", tt.name, g, tt.want)
		}
	}

	// Keyset paging visits every user once, in order.
	var paged []string
	f := store.UserFilter{Limit: 4}
	for range len(users) + 1 {
		page, err := s.ListUsers(ctx, f)
		must(t, "ListUsers page", err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, emails(page)...)
		f.AfterEmail = page[len(page)-1].Email
	}
	if all := want(func(string, store.Role) bool { return true }); !slices.Equal(paged, all) {
		t.Errorf("paging by 4 gave %q, want %q", paged, all)
	}
}

func testUserSetRole(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	prev, err := s.SetRole(ctx, u.ID, store.RoleAdmin, at(time.Hour))
	must(t, "SetRole", err)
	if prev != store.RoleTechnician {
		t.Errorf("SetRole returned previous role %q, want technician", prev)
	}
	prev, err = s.SetRole(ctx, u.ID, store.RoleCustomer, at(2*time.Hour))
	must(t, "SetRole again", err)
	if prev != store.RoleAdmin {
		t.Errorf("SetRole returned previous role %q, want admin", prev)
	}
	want := u
	want.Role, want.UpdatedAt = store.RoleCustomer, at(2*time.Hour)
	got, err := s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	checkUser(t, "after SetRole", got, want)

	for _, r := range []store.Role{"", "superuser", "Admin"} {
		_, err = s.SetRole(ctx, u.ID, r, at(3*time.Hour))
		wantErr(t, "SetRole "+string(r), err, store.ErrInvalid)
	}
	got, err = s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	checkUser(t, "after refused SetRole", got, want)
}

func testUserSetDisabled(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleCustomer)

	login := func(userID, label string) store.RefreshToken {
		tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: userID, TokenHash: tokenHash(label),
			CreatedAt: t0, ExpiresAt: at(30 * 24 * time.Hour)})
		must(t, "CreateRefreshToken "+label, err)
		return tok
	}
	a, b, loggedOut, others := login(u.ID, "a"), login(u.ID, "b"), login(u.ID, "logged-out"), login(other.ID, "other")
	logoutAt := at(time.Minute)
	_, err := s.RevokeRefreshToken(ctx, loggedOut.TokenHash, logoutAt)
	must(t, "RevokeRefreshToken", err)

	disabledAt := at(time.Hour)
	must(t, "SetDisabled true", s.SetDisabled(ctx, u.ID, true, disabledAt))
	got, err := s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	want := u
	want.Disabled, want.UpdatedAt = true, disabledAt
	checkUser(t, "disabled user", got, want)

	for _, tc := range []struct {
		tok  store.RefreshToken
		want *time.Time
	}{{a, &disabledAt}, {b, &disabledAt}, {loggedOut, &logoutAt}, {others, nil}} {
		r, err := s.RefreshTokenByHash(ctx, tc.tok.TokenHash)
		must(t, "RefreshTokenByHash", err)
		checkTimePtr(t, "RevokedAt of token "+tc.tok.ID, r.RevokedAt, tc.want)
	}
	_, err = s.RotateRefreshToken(ctx, a.TokenHash, store.RefreshToken{TokenHash: tokenHash("a2"),
		CreatedAt: at(2 * time.Hour), ExpiresAt: at(40 * 24 * time.Hour)}, at(2*time.Hour))
	wantErr(t, "RotateRefreshToken of a disabled user's token", err, store.ErrTokenRevoked)

	// Enabling again revokes nothing and restores nothing.
	enabledAt := at(3 * time.Hour)
	must(t, "SetDisabled false", s.SetDisabled(ctx, u.ID, false, enabledAt))
	got, err = s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	want.Disabled, want.UpdatedAt = false, enabledAt
	checkUser(t, "re-enabled user", got, want)
	r, err := s.RefreshTokenByHash(ctx, b.TokenHash)
	must(t, "RefreshTokenByHash", err)
	if r.RevokedAt == nil {
		t.Error("re-enabling the user un-revoked a token")
	}
	r, err = s.RefreshTokenByHash(ctx, others.TokenHash)
	must(t, "RefreshTokenByHash", err)
	if r.RevokedAt != nil {
		t.Error("disabling one user revoked another user's token")
	}
}

func testUserSetPasswordHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: tokenHash("t"),
		CreatedAt: t0, ExpiresAt: at(24 * time.Hour)})
	must(t, "CreateRefreshToken", err)

	must(t, "SetPasswordHash", s.SetPasswordHash(ctx, u.ID, "$argon2id$v=19$new", at(time.Hour)))
	got, err := s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	want := u
	want.PasswordHash, want.UpdatedAt = "$argon2id$v=19$new", at(time.Hour)
	checkUser(t, "after SetPasswordHash", got, want)

	r, err := s.RefreshTokenByHash(ctx, tok.TokenHash)
	must(t, "RefreshTokenByHash", err)
	if r.RevokedAt != nil {
		t.Errorf("SetPasswordHash revoked a refresh token; it must revoke nothing")
	}

	err = s.SetPasswordHash(ctx, u.ID, "", at(2*time.Hour))
	wantErr(t, "SetPasswordHash empty", err, store.ErrInvalid)
	got, err = s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	checkUser(t, "after a refused SetPasswordHash", got, want)
}
