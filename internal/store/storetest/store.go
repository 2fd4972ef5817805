package storetest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
)

var storeCases = []testCase{
	{"PingAndClose", testPingClose},
	{"CancelledContext", testCancelledContext},
	{"ErrorsCarryNoSecrets", testErrorsCarryNoSecrets},
}

var migratorCases = []testCase{
	{"MigrateIsIdempotent", testMigrateIdempotent},
	{"Status", testMigrationStatus},
}

func testPingClose(t *testing.T, s store.Store) {
	must(t, "Ping", s.Ping(t.Context()))
	u := userFixture(t, s)
	must(t, "Close", s.Close())
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	_, err := s.UserByID(t.Context(), u.ID)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID after Close: error %v, want a closed-store error", err)
	}
}

// testCancelledContext calls every method, with arguments that would
// succeed, under a cancelled context: each must fail with context.Canceled
// and change nothing.
func testCancelledContext(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0))
	codes := backupCodes(2, "c")
	must(t, "EnableTOTP", s.EnableTOTP(ctx, u.ID, codes, t0))
	tok := login(t, s, u.ID, "a", t0)
	mustAppend(t, s, audit.Event{Timestamp: t0, Action: audit.ActionLogin})
	p := store.LockoutPolicy{Threshold: 1, BaseLock: time.Minute}
	later := at(time.Hour)

	c := ctxCancelled(t)
	calls := map[string]func() error{
		"Ping": func() error { return s.Ping(c) },
		"CreateOrganisation": func() error {
			_, err := s.CreateOrganisation(c, store.Organisation{Name: "New", CreatedAt: t0})
			return err
		},
		"EnsureOrganisation": func() error { _, err := s.EnsureOrganisation(c, "New", t0); return err },
		"OrganisationByID":   func() error { _, err := s.OrganisationByID(c, u.OrgID); return err },
		"OrganisationByName": func() error { _, err := s.OrganisationByName(c, "Fixture Repairs"); return err },
		"ListOrganisations":  func() error { _, err := s.ListOrganisations(c); return err },
		"CreateUser": func() error {
			_, err := s.CreateUser(c, store.User{OrgID: u.OrgID, Email: "new@example.com", PasswordHash: "h", Role: store.RoleCustomer, CreatedAt: t0})
			return err
		},
		"UserByID":        func() error { _, err := s.UserByID(c, u.ID); return err },
		"UserByEmail":     func() error { _, err := s.UserByEmail(c, u.Email); return err },
		"ListUsers":       func() error { _, err := s.ListUsers(c, store.UserFilter{}); return err },
		"CountUsers":      func() error { _, err := s.CountUsers(c); return err },
		"SetRole":         func() error { _, err := s.SetRole(c, u.ID, store.RoleOwner, later); return err },
		"SetDisabled":     func() error { return s.SetDisabled(c, u.ID, true, later) },
		"SetPasswordHash": func() error { return s.SetPasswordHash(c, u.ID, "h2", later) },
		"SaveTOTPSecret":  func() error { return s.SaveTOTPSecret(c, u.ID, []byte("x"), "k", later) },
		"EnableTOTP":      func() error { return s.EnableTOTP(c, u.ID, codes, later) },
		"DisableTOTP":     func() error { return s.DisableTOTP(c, u.ID, later) },
		"TOTPState":       func() error { _, err := s.TOTPState(c, u.ID); return err },
		"AcceptStep":      func() error { _, err := s.AcceptStep(c, u.ID, 99); return err },
		"UseBackupCode":   func() error { _, err := s.UseBackupCode(c, u.ID, codes[0]); return err },
		"CreateRefreshToken": func() error {
			_, err := s.CreateRefreshToken(c, store.RefreshToken{UserID: u.ID, TokenHash: tokenHash("new"), CreatedAt: t0, ExpiresAt: later})
			return err
		},
		"RotateRefreshToken": func() error {
			_, err := s.RotateRefreshToken(c, tok.TokenHash, next("b", t0), t0)
			return err
		},
		"RefreshTokenByHash":         func() error { _, err := s.RefreshTokenByHash(c, tok.TokenHash); return err },
		"ListRefreshTokens":          func() error { _, err := s.ListRefreshTokens(c, u.ID); return err },
		"RevokeRefreshToken":         func() error { _, err := s.RevokeRefreshToken(c, tok.TokenHash, later); return err },
		"RevokeRefreshFamily":        func() error { _, err := s.RevokeRefreshFamily(c, tok.FamilyID, later); return err },
		"RevokeUserRefreshTokens":    func() error { _, err := s.RevokeUserRefreshTokens(c, u.ID, later); return err },
		"DeleteExpiredRefreshTokens": func() error { _, err := s.DeleteExpiredRefreshTokens(c, at(365*day)); return err },
		"RevokedFamilies":            func() error { _, err := s.RevokedFamilies(c, t0); return err },
		"Lockout":                    func() error { _, err := s.Lockout(c, u.ID); return err },
		"RecordFailure":              func() error { _, err := s.RecordFailure(c, u.ID, t0, p); return err },
		"ClearFailures":              func() error { return s.ClearFailures(c, u.ID) },
		"Unlock":                     func() error { return s.Unlock(c, u.ID) },
		"AppendAudit": func() error {
			return s.AppendAudit(c, audit.Event{Timestamp: t0, Action: audit.ActionLogout})
		},
		"ListAudit": func() error { _, err := s.ListAudit(c, store.AuditFilter{}); return err },
	}
	// Keep the table in step with the interface: all but Close.
	if want := reflect.TypeFor[store.Store]().NumMethod() - 1; len(calls) != want {
		t.Fatalf("the table calls %d methods, store.Store has %d with a context", len(calls), want)
	}
	if m, ok := s.(store.Migrator); ok {
		calls["Migrate"] = func() error { _, err := m.Migrate(c); return err }
		calls["MigrationStatus"] = func() error { _, err := m.MigrationStatus(c); return err }
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error %v, want %v", name, err, context.Canceled)
		}
	}

	// Nothing changed.
	got, err := s.UserByID(ctx, u.ID)
	must(t, "UserByID", err)
	checkUser(t, "user after cancelled calls", got, store.User{ID: u.ID, OrgID: u.OrgID, Email: u.Email,
		PasswordHash: u.PasswordHash, Role: u.Role, TwoFactorEnabled: true, CreatedAt: t0, UpdatedAt: t0})
	if st := mustTOTPState(t, s, u.ID); st.LastStep != 0 || st.BackupCodesRemaining != 2 {
		t.Errorf("TOTP state after cancelled calls = %+v", st)
	}
	checkToken(t, "token after cancelled calls", mustToken(t, s, tok.TokenHash), tok)
	checkLockout(t, "lockout after cancelled calls", mustLockout(t, s, u.ID), store.Lockout{UserID: u.ID})
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers after cancelled calls = %d, %v; want 1", n, err)
	}
	if orgs, err := s.ListOrganisations(ctx); err != nil || len(orgs) != 1 {
		t.Errorf("ListOrganisations after cancelled calls = %+v, %v; want the fixture's", orgs, err)
	}
	if evs := mustList(t, s, store.AuditFilter{}); len(evs) != 1 {
		t.Errorf("ListAudit after cancelled calls = %d events, want 1", len(evs))
	}
}

// secretForms are the ways a secret could leak into a message.
func secretForms(b []byte) []string {
	return []string{
		string(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), fmt.Sprint(b),
	}
}

func testErrorsCarryNoSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	const hash = "$argon2id$v=19$m=65536,t=3,p=4$U0VDUkVU$c2VjcmV0LWhhc2g"
	ciphertext := []byte("sealed-totp-secret-ciphertext")
	codes := backupCodes(2, "secret")
	a := login(t, s, u.ID, "a", t0)
	b, err := s.RotateRefreshToken(ctx, a.TokenHash, next("b", at(time.Minute)), at(time.Minute))
	must(t, "RotateRefreshToken", err)
	expired, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: tokenHash("expired"), CreatedAt: t0, ExpiresAt: at(time.Second)})
	must(t, "CreateRefreshToken", err)

	secrets := [][]byte{[]byte(hash), ciphertext, codes[0], codes[1], a.TokenHash, b.TokenHash, expired.TokenHash, tokenHash("unknown")}
	var errs []error
	record := func(err error) {
		if err == nil {
			t.Errorf("call %d: no error; the case expects one", len(errs))
		}
		errs = append(errs, err)
	}
	_, err = s.CreateUser(ctx, store.User{OrgID: u.OrgID, Email: u.Email, PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: t0})
	record(err)
	_, err = s.CreateUser(ctx, store.User{OrgID: u.OrgID, Email: "x", PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: t0})
	record(err)
	record(s.SetPasswordHash(ctx, store.NewID(), hash, t0))
	record(s.SaveTOTPSecret(ctx, store.NewID(), ciphertext, "key", t0))
	record(s.EnableTOTP(ctx, u.ID, codes, t0)) // no pending secret
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, ciphertext, "key", t0))
	record(s.EnableTOTP(ctx, u.ID, [][]byte{codes[0], codes[0]}, t0))
	must(t, "EnableTOTP", s.EnableTOTP(ctx, u.ID, codes, t0))
	record(s.SaveTOTPSecret(ctx, u.ID, ciphertext, "key", t0))
	_, err = s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: a.TokenHash, CreatedAt: t0, ExpiresAt: at(day)})
	record(err)
	_, err = s.CreateRefreshToken(ctx, store.RefreshToken{UserID: store.NewID(), TokenHash: tokenHash("unknown"), CreatedAt: t0, ExpiresAt: at(day)})
	record(err)
	now := at(time.Hour)
	_, err = s.RotateRefreshToken(ctx, tokenHash("unknown"), next("c", now), now)
	record(err)
	_, err = s.RotateRefreshToken(ctx, expired.TokenHash, next("c", now), now)
	record(err)
	_, err = s.RotateRefreshToken(ctx, b.TokenHash, next("a", now), now) // a's hash is taken
	record(err)
	_, err = s.RotateRefreshToken(ctx, a.TokenHash, next("c", now), now) // reuse
	record(err)
	_, err = s.RotateRefreshToken(ctx, b.TokenHash, next("c", now), now) // revoked by the reuse
	record(err)
	_, err = s.RevokeRefreshToken(ctx, tokenHash("unknown"), t0)
	record(err)

	for i, err := range errs {
		if err == nil {
			continue
		}
		msg := err.Error()
		for _, secret := range secrets {
			for _, form := range secretForms(secret) {
				if strings.Contains(msg, form) {
					t.Errorf("error %d %q contains a secret (%q)", i, msg, form)
				}
			}
		}
	}
}

func migrator(t *testing.T, s store.Store) store.Migrator {
	t.Helper()
	m, ok := s.(store.Migrator)
	if !ok {
		t.Skipf("%T does not implement store.Migrator", s)
	}
	return m
}

func testMigrateIdempotent(t *testing.T, s store.Store) {
	m := migrator(t, s)
	before, err := m.MigrationStatus(t.Context())
	must(t, "MigrationStatus", err)

	applied := make([]int, raceN)
	errs := make([]error, raceN)
	race(raceN, func(i int) {
		ms, err := m.Migrate(t.Context())
		applied[i], errs[i] = len(ms), err
	})
	for i, err := range errs {
		must(t, "Migrate of a migrated store", err)
		if applied[i] != 0 {
			t.Errorf("Migrate of a migrated store applied %d migrations", applied[i])
		}
	}
	after, err := m.MigrationStatus(t.Context())
	must(t, "MigrationStatus", err)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("Migrate of a migrated store changed the status:\nbefore %+v\n after %+v", before, after)
	}
	// And the store still works.
	userFixture(t, s)
}

func testMigrationStatus(t *testing.T, s store.Store) {
	m := migrator(t, s)
	states, err := m.MigrationStatus(t.Context())
	must(t, "MigrationStatus", err)
	if len(states) == 0 {
		t.Fatal("MigrationStatus lists no migrations")
	}
	for i, st := range states {
		if i > 0 && st.Version <= states[i-1].Version {
			t.Errorf("MigrationStatus is not sorted by version: %d after %d", st.Version, states[i-1].Version)
		}
		if st.Version <= 0 || st.Name == "" || !st.Applied || st.Modified || st.Unknown {
			t.Errorf("migration %+v: want a positive version, a name, applied, neither modified nor unknown", st)
		}
		if st.AppliedAt.IsZero() || st.AppliedAt.Location() != time.UTC {
			t.Errorf("migration %d applied at %v, want a UTC time", st.Version, st.AppliedAt)
		}
	}
	again, err := m.MigrationStatus(t.Context())
	must(t, "MigrationStatus again", err)
	if !reflect.DeepEqual(states, again) {
		t.Errorf("MigrationStatus changed between two calls:\n%+v\n%+v", states, again)
	}
}
