package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var totpCases = []testCase{
	{"PendingToEnabledToDisabled", testTOTPLifecycle},
	{"NotFound", testTOTPNotFound},
	{"EnableInvalidBackupCodes", testTOTPEnableInvalid},
	{"AcceptStepOnlyGrows", testTOTPAcceptStep},
	{"AcceptStepConcurrent", testTOTPAcceptStepConcurrent},
	{"UseBackupCodeOnce", testTOTPUseBackupCode},
	{"UseBackupCodeConcurrent", testTOTPUseBackupCodeConcurrent},
}

func backupCodes(n int, label string) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, store.HashToken(fmt.Sprintf("backup:%s:%d", label, i)))
	}
	return out
}

func mustTOTPState(t *testing.T, s store.Store, userID string) store.TOTPState {
	t.Helper()
	st, err := s.TOTPState(t.Context(), userID)
	must(t, "TOTPState", err)
	return st
}

func checkTwoFactor(t *testing.T, s store.Store, userID string, want bool) {
	t.Helper()
	u, err := s.UserByID(t.Context(), userID)
	must(t, "UserByID", err)
	if u.TwoFactorEnabled != want {
		t.Errorf("User.TwoFactorEnabled = %t, want %t", u.TwoFactorEnabled, want)
	}
}

func testTOTPLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	_, err := s.TOTPState(ctx, u.ID)
	wantErr(t, "TOTPState before setup", err, store.ErrNotFound)

	// Setup: pending.
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed-1"), "key-1", at(time.Minute)))
	st := mustTOTPState(t, s, u.ID)
	if st.UserID != u.ID || !bytes.Equal(st.SecretCiphertext, []byte("sealed-1")) || st.KeyID != "key-1" ||
		st.Enabled || st.LastStep != 0 || st.BackupCodesRemaining != 0 {
		t.Errorf("pending state = %+v", st)
	}
	checkTime(t, "CreatedAt", st.CreatedAt, at(time.Minute))
	checkTimePtr(t, "EnabledAt of a pending secret", st.EnabledAt, nil)
	checkTwoFactor(t, s, u.ID, false)

	// A verifying code on the pending secret, then a new setup: the
	// secret is replaced, the last step kept.
	ok, err := s.AcceptStep(ctx, u.ID, 1000)
	must(t, "AcceptStep on a pending secret", err)
	if !ok {
		t.Fatal("AcceptStep(1000) on a fresh pending secret = false")
	}
	must(t, "SaveTOTPSecret again", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed-2"), "key-2", at(2*time.Minute)))
	st = mustTOTPState(t, s, u.ID)
	if !bytes.Equal(st.SecretCiphertext, []byte("sealed-2")) || st.KeyID != "key-2" || st.Enabled {
		t.Errorf("state after a second setup = %+v, want the new pending secret", st)
	}
	if st.LastStep != 1000 {
		t.Errorf("LastStep after a second setup = %d, want 1000 kept", st.LastStep)
	}
	checkTime(t, "CreatedAt after a second setup", st.CreatedAt, at(2*time.Minute))
	ok, err = s.AcceptStep(ctx, u.ID, 1000)
	must(t, "AcceptStep", err)
	if ok {
		t.Error("AcceptStep(1000) accepted after a new setup: the step was used already")
	}

	// Enable: state, backup codes and the user's flag together.
	codes := backupCodes(10, u.ID)
	must(t, "EnableTOTP", s.EnableTOTP(ctx, u.ID, codes, at(3*time.Minute)))
	st = mustTOTPState(t, s, u.ID)
	if !st.Enabled || st.BackupCodesRemaining != 10 || st.LastStep != 1000 || st.KeyID != "key-2" {
		t.Errorf("enabled state = %+v, want enabled, 10 backup codes, step 1000", st)
	}
	checkTimePtr(t, "EnabledAt", st.EnabledAt, ptr(at(3*time.Minute)))
	checkTwoFactor(t, s, u.ID, true)

	err = s.SaveTOTPSecret(ctx, u.ID, []byte("sealed-3"), "key-3", at(4*time.Minute))
	wantErr(t, "SaveTOTPSecret while enabled", err, store.ErrConflict)
	err = s.EnableTOTP(ctx, u.ID, backupCodes(10, "again"), at(4*time.Minute))
	wantErr(t, "EnableTOTP twice", err, store.ErrConflict)
	st = mustTOTPState(t, s, u.ID)
	if !bytes.Equal(st.SecretCiphertext, []byte("sealed-2")) || st.BackupCodesRemaining != 10 {
		t.Errorf("state after refused changes = %+v, want it unchanged", st)
	}
	if ok, _ := s.UseBackupCode(ctx, u.ID, backupCodes(1, "again")[0]); ok {
		t.Error("a backup code of the refused second EnableTOTP works")
	}

	// Disable: state and codes gone, flag cleared; disabling again is fine.
	must(t, "DisableTOTP", s.DisableTOTP(ctx, u.ID, at(5*time.Minute)))
	_, err = s.TOTPState(ctx, u.ID)
	wantErr(t, "TOTPState after DisableTOTP", err, store.ErrNotFound)
	checkTwoFactor(t, s, u.ID, false)
	ok, err = s.UseBackupCode(ctx, u.ID, codes[0])
	must(t, "UseBackupCode after DisableTOTP", err)
	if ok {
		t.Error("a backup code still works after DisableTOTP")
	}
	must(t, "DisableTOTP without TOTP", s.DisableTOTP(ctx, u.ID, at(6*time.Minute)))

	// And set up again from scratch.
	must(t, "SaveTOTPSecret after disable", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed-4"), "key-4", at(7*time.Minute)))
	must(t, "EnableTOTP after disable", s.EnableTOTP(ctx, u.ID, backupCodes(2, "new"), at(8*time.Minute)))
	st = mustTOTPState(t, s, u.ID)
	if !st.Enabled || st.BackupCodesRemaining != 2 {
		t.Errorf("re-enabled state = %+v, want enabled with 2 backup codes", st)
	}
	checkTwoFactor(t, s, u.ID, true)
}

func testTOTPNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	unknown := store.NewID()
	err := s.SaveTOTPSecret(ctx, unknown, []byte("sealed"), "key", t0)
	wantErr(t, "SaveTOTPSecret for an unknown user", err, store.ErrNotFound)
	err = s.EnableTOTP(ctx, u.ID, backupCodes(3, "x"), t0)
	wantErr(t, "EnableTOTP without a pending secret", err, store.ErrNotFound)
	checkTwoFactor(t, s, u.ID, false)
	err = s.DisableTOTP(ctx, unknown, t0)
	wantErr(t, "DisableTOTP for an unknown user", err, store.ErrNotFound)
	_, err = s.AcceptStep(ctx, u.ID, 5)
	wantErr(t, "AcceptStep without TOTP state", err, store.ErrNotFound)
	_, err = s.AcceptStep(ctx, unknown, 5)
	wantErr(t, "AcceptStep for an unknown user", err, store.ErrNotFound)
	_, err = s.TOTPState(ctx, unknown)
	wantErr(t, "TOTPState for an unknown user", err, store.ErrNotFound)
	ok, err := s.UseBackupCode(ctx, u.ID, backupCodes(1, "x")[0])
	must(t, "UseBackupCode without TOTP", err)
	if ok {
		t.Error("UseBackupCode without TOTP = true")
	}
}

func testTOTPEnableInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0))
	codes := backupCodes(3, "x")
	for name, hashes := range map[string][][]byte{
		"a duplicate hash": {codes[0], codes[1], codes[0]},
		"an empty hash":    {codes[0], {}},
		"a nil hash":       {nil, codes[1]},
	} {
		err := s.EnableTOTP(ctx, u.ID, hashes, at(time.Minute))
		wantErr(t, "EnableTOTP with "+name, err, store.ErrInvalid)
	}
	st := mustTOTPState(t, s, u.ID)
	if st.Enabled || st.BackupCodesRemaining != 0 {
		t.Errorf("state after refused EnableTOTP = %+v, want still pending", st)
	}
	checkTwoFactor(t, s, u.ID, false)
}

func testTOTPAcceptStep(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0))
	must(t, "EnableTOTP", s.EnableTOTP(ctx, u.ID, backupCodes(1, "x"), t0))
	steps := []struct {
		step int64
		want bool
	}{
		{59_000_000, true},
		{59_000_000, false}, // replay
		{58_999_999, false}, // older
		{59_000_001, true},
		{59_000_010, true},
		{59_000_005, false},
		{0, false},
	}
	for _, st := range steps {
		ok, err := s.AcceptStep(ctx, u.ID, st.step)
		must(t, fmt.Sprintf("AcceptStep(%d)", st.step), err)
		if ok != st.want {
			t.Errorf("AcceptStep(%d) = %t, want %t", st.step, ok, st.want)
		}
	}
	if got := mustTOTPState(t, s, u.ID).LastStep; got != 59_000_010 {
		t.Errorf("LastStep = %d, want 59000010", got)
	}
}

func testTOTPAcceptStepConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0))

	// One code, presented many times at once: one login.
	accepted := make([]bool, raceN)
	errs := make([]error, raceN)
	race(raceN, func(i int) { accepted[i], errs[i] = s.AcceptStep(ctx, u.ID, 700) })
	for _, err := range errs {
		must(t, "concurrent AcceptStep", err)
	}
	if n := count(accepted); n != 1 {
		t.Errorf("%d of %d concurrent AcceptStep(700) calls were accepted, want exactly 1", n, raceN)
	}

	// Different steps at once: no update is lost, so the largest one wins
	// whatever the order.
	race(raceN, func(i int) { accepted[i], errs[i] = s.AcceptStep(ctx, u.ID, int64(800+i)) })
	for _, err := range errs {
		must(t, "concurrent AcceptStep", err)
	}
	if !accepted[raceN-1] {
		t.Errorf("AcceptStep(%d), the largest step, was refused", 800+raceN-1)
	}
	if got := mustTOTPState(t, s, u.ID).LastStep; got != int64(800+raceN-1) {
		t.Errorf("LastStep after concurrent steps = %d, want %d", got, 800+raceN-1)
	}
}

func testTOTPUseBackupCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	other := mustUser(t, s, u.OrgID, "other@example.com", store.RoleAdmin)
	codes := backupCodes(3, "shared")
	for _, id := range []string{u.ID, other.ID} {
		must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, id, []byte("sealed"), "key", t0))
		must(t, "EnableTOTP", s.EnableTOTP(ctx, id, codes, t0)) // the same hashes for both users
	}

	use := func(userID string, code []byte, want bool) {
		t.Helper()
		ok, err := s.UseBackupCode(ctx, userID, code)
		must(t, "UseBackupCode", err)
		if ok != want {
			t.Errorf("UseBackupCode = %t, want %t", ok, want)
		}
	}
	use(u.ID, codes[1], true)
	use(u.ID, codes[1], false) // spent
	use(u.ID, backupCodes(1, "wrong")[0], false)
	use(u.ID, []byte{}, false)
	use(store.NewID(), codes[0], false)
	if got := mustTOTPState(t, s, u.ID).BackupCodesRemaining; got != 2 {
		t.Errorf("BackupCodesRemaining = %d, want 2", got)
	}
	// The other user's copy of the same hash is untouched.
	if got := mustTOTPState(t, s, other.ID).BackupCodesRemaining; got != 3 {
		t.Errorf("the other user's BackupCodesRemaining = %d, want 3", got)
	}
	use(other.ID, codes[1], true)
	use(u.ID, codes[0], true)
	use(u.ID, codes[2], true)
	if got := mustTOTPState(t, s, u.ID).BackupCodesRemaining; got != 0 {
		t.Errorf("BackupCodesRemaining = %d, want 0", got)
	}
}

func testTOTPUseBackupCodeConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := userFixture(t, s)
	codes := backupCodes(raceRounds+1, u.ID)
	must(t, "SaveTOTPSecret", s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "key", t0))
	must(t, "EnableTOTP", s.EnableTOTP(ctx, u.ID, codes, t0))

	// One code per round, used by raceN logins at once.
	for round := range raceRounds {
		used := make([]bool, raceN)
		errs := make([]error, raceN)
		race(raceN, func(i int) { used[i], errs[i] = s.UseBackupCode(ctx, u.ID, codes[round]) })
		for _, err := range errs {
			must(t, "concurrent UseBackupCode", err)
		}
		if n := count(used); n != 1 {
			t.Errorf("round %d: %d of %d concurrent uses of one backup code succeeded, want exactly 1", round, n, raceN)
		}
	}
	if got := mustTOTPState(t, s, u.ID).BackupCodesRemaining; got != 1 {
		t.Errorf("BackupCodesRemaining = %d, want 1", got)
	}
}

func count(bs []bool) int {
	return len(slices.DeleteFunc(slices.Clone(bs), func(b bool) bool { return !b }))
}
