package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/sqlite"
	"github.com/repairx/repairxctl/internal/ui"
	"github.com/repairx/repairxctl/internal/version"
)

// userTestNow is the clock of the user command tests.
var userTestNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// userEnv isolates a test, writes a config with a fast bcrypt cost and the
// data directory ./data, and returns the database path.
func userEnv(t *testing.T) string {
	t.Helper()
	dir := isolate(t)
	t.Setenv("USER", "opal")
	cfg := "data_dir: data\nauth:\n  bcrypt_cost: 10\n"
	if err := os.WriteFile(filepath.Join(dir, "repairxctl.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "data", sqlite.DefaultFileName)
}

// runUser runs a command line with stdin, a fixed clock and version 1.2.3.
func runUser(t *testing.T, stdin string, tty bool, args ...string) run {
	t.Helper()
	ios, in, out, errOut := ui.Test()
	in.WriteString(stdin)
	if tty {
		ios.SetTTY(false, true, true)
	}
	f := NewFactory(ios)
	f.Build = version.Info{Version: "1.2.3"}
	f.Now = func() time.Time { return userTestNow }
	code := Run(context.Background(), args, f)
	return run{code, out.String(), errOut.String()}
}

// openTestStore opens the database the commands wrote, to check it.
func openTestStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t *testing.T, email, role, password string, extra ...string) userView {
	t.Helper()
	args := append([]string{"user", "create", "--email", email, "--role", role, "--password-stdin", "-o", "json"}, extra...)
	r := runUser(t, password+"\n", false, args...)
	if r.code != 0 {
		t.Fatalf("user create %s: exit %d: %s", email, r.code, r.errOut)
	}
	var res userCreateResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("user create -o json: %v\n%s", err, r.out)
	}
	return res.User
}

func TestReadPasswordLine(t *testing.T) {
	tests := []struct {
		in, want string
		code     int
	}{
		{"pw-long-enough\n", "pw-long-enough", 0},
		{"pw-long-enough\r\n", "pw-long-enough", 0},
		{"pw-long-enough", "pw-long-enough", 0}, // no final newline
		{"first line\nsecond line\n", "first line", 0},
		{"inner\rreturn\n", "inner\rreturn", 0}, // only the line ending goes
		{"  spaces kept  \n", "  spaces kept  ", 0},
		{"\n", "", 0}, // empty: ValidatePassword rejects it
		{"", "", exitcode.Usage},
	}
	for _, tt := range tests {
		got, err := readPasswordLine(strings.NewReader(tt.in))
		if code := exitcode.Code(err); code != tt.code || got != tt.want {
			t.Errorf("readPasswordLine(%q) = %q, exit %d (%v); want %q, exit %d", tt.in, got, code, err, tt.want, tt.code)
		}
	}
	// A line longer than the limit is read only up to it, so it is refused
	// as too long rather than cut to 72 bytes and accepted.
	long := strings.Repeat("x", maxPasswordLine+100) + "\n"
	got, err := readPasswordLine(strings.NewReader(long))
	if err != nil || !errors.Is(auth.ValidatePassword(got), auth.ErrPasswordTooLong) {
		t.Errorf("over-long line: %d bytes, %v", len(got), err)
	}
}

func TestUserCreateFlags(t *testing.T) {
	tests := []struct {
		args  string
		code  int
		check func(*testing.T, *UserCreateOptions)
	}{
		{"--email A@B.test --role Manager", 0, func(t *testing.T, o *UserCreateOptions) {
			if o.Email != "a@b.test" || o.Role != store.RoleManager || o.Org != "default" || o.PasswordStdin {
				t.Errorf("parsed %+v", o)
			}
			if o.UserAgent != "repairxctl/1.2.3" || o.Operator != "opal" || o.OpenStore == nil {
				t.Errorf("shared options %+v", o.UserOptions)
			}
			if o.Prompt != nil {
				t.Errorf("a prompt without a terminal")
			}
		}},
		{"--email a@b.test --role owner --org Acme --password-stdin", 0, func(t *testing.T, o *UserCreateOptions) {
			if o.Org != "Acme" || !o.PasswordStdin || o.Role != store.RoleOwner {
				t.Errorf("parsed %+v", o)
			}
		}},
		{"--email a@b.test", exitcode.Usage, nil},
		{"--role owner", exitcode.Usage, nil},
		{"--email a@b.test --role root", exitcode.Usage, nil},
		{"--email nobody --role owner", exitcode.Usage, nil},
		{"--email a@b.test --role owner --org=", exitcode.Usage, nil},
		{"--email a@b.test --role owner --password secret", exitcode.Usage, nil},
		{"--email a@b.test --role owner extra", exitcode.Usage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			t.Setenv("USER", "opal")
			ios, _, _, _ := ui.Test()
			f := NewFactory(ios)
			f.Build = version.Info{Version: "1.2.3"}
			var got *UserCreateOptions
			cmd := newUserCreateCmd(f, func(o *UserCreateOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if code := cliCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if err == nil && strings.Contains(tt.args, "secret") {
				t.Fatal("a password flag was accepted")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestUserCommandArgs(t *testing.T) {
	tests := []struct {
		args string
		code int
	}{
		{"user set-role a@b.test admin", 0},
		{"user set-role a@b.test", exitcode.Usage},
		{"user set-role a@b.test wizard", exitcode.Usage},
		{"user disable", exitcode.Usage},
		{"user enable a b", exitcode.Usage},
		{"user unlock", exitcode.Usage},
		{"user reset-2fa", exitcode.Usage},
		{"user list --role wizard", exitcode.Usage},
		{"user list extra", exitcode.Usage},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := ui.Test()
			f := NewFactory(ios)
			var ran bool
			cmd := userCmdWithRunF(f, &ran)
			cmd.SetArgs(strings.Fields(tt.args)[1:])
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if code := cliCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if ran != (tt.code == 0) {
				t.Errorf("ran = %v", ran)
			}
		})
	}
}

// cliCode is the exit code Run gives err, cobra's own errors included.
func cliCode(err error) int {
	if err == nil {
		return 0
	}
	return exitcode.Code(classify(err))
}

// userCmdWithRunF is the user command tree with every run function
// replaced, to test argument parsing alone.
func userCmdWithRunF(f *Factory, ran *bool) interface {
	SetArgs([]string)
	SetOut(w io.Writer)
	SetErr(w io.Writer)
	Execute() error
} {
	cmd := groupCmd("user", "test", "")
	cmd.AddCommand(
		newUserSetRoleCmd(f, func(o *UserSetRoleOptions) error {
			*ran = o.User == "a@b.test" && o.Role == store.RoleAdmin
			return nil
		}),
		newUserDisableCmd(f, func(*UserDisableOptions) error { *ran = true; return nil }),
		newUserEnableCmd(f, func(*UserDisableOptions) error { *ran = true; return nil }),
		newUserUnlockCmd(f, func(*UserUnlockOptions) error { *ran = true; return nil }),
		newUserReset2FACmd(f, func(*UserReset2FAOptions) error { *ran = true; return nil }),
		newUserListCmd(f, func(*UserListOptions) error { *ran = true; return nil }),
	)
	return cmd
}

// TestUserCreateStoresVerifiableHash: the password that lands in the store
// is the line given, without its line ending, and the output never shows
// the hash.
func TestUserCreateStoresVerifiableHash(t *testing.T) {
	db := userEnv(t)
	r := runUser(t, "pw-long-enough\r\nignored second line\n", false,
		"user", "create", "--email", "a@b.test", "--role", "admin", "--password-stdin", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	if strings.Contains(r.out, "bcrypt") || strings.Contains(r.out, "$2a$") || strings.Contains(r.errOut, "pw-long-enough") {
		t.Fatalf("output leaks the password or its hash:\n%s\n%s", r.out, r.errOut)
	}
	s := openTestStore(t, db)
	u, err := s.UserByEmail(context.Background(), "a@b.test")
	if err != nil {
		t.Fatal(err)
	}
	h, err := auth.NewHasher(10)
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"pw-long-enough": true, "pw-long-enough\r": false, "ignored second line": false} {
		ok, _, err := h.Verify(u.PasswordHash, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if !strings.HasPrefix(u.PasswordHash, "bcrypt:$2a$10$") {
		t.Errorf("hash %.14s..., want bcrypt at auth.bcrypt_cost 10", u.PasswordHash)
	}
	for _, hint := range []string{"must enrol in two-factor authentication"} {
		if !strings.Contains(r.errOut, hint) {
			t.Errorf("stderr lacks %q:\n%s", hint, r.errOut)
		}
	}
}

// TestUserAudit: every change writes one audit event about the user, with
// the tool as user agent and the OS user as operator; no-op changes none.
func TestUserAudit(t *testing.T) {
	db := userEnv(t)
	u := mustCreate(t, "a@b.test", "manager", "pw-long-enough")
	steps := []struct {
		args    []string
		action  string
		details map[string]any
	}{
		{nil, audit.ActionUserCreate, map[string]any{"email": "a@b.test", "role": "manager", "organisation": "default"}},
		{[]string{"user", "set-role", "a@b.test", "owner"}, audit.ActionRoleChange, map[string]any{"old_role": "manager", "new_role": "owner"}},
		{[]string{"user", "set-role", u.ID, "owner"}, "", nil}, // by id; no change
		{[]string{"user", "disable", "A@B.TEST"}, audit.ActionUserDisable, map[string]any{"disabled": true}},
		{[]string{"user", "disable", "a@b.test"}, "", nil},
		{[]string{"user", "enable", "a@b.test"}, audit.ActionUserEnable, map[string]any{"disabled": false}},
		{[]string{"user", "unlock", "a@b.test"}, audit.ActionUserUnlock, map[string]any{"was_locked": false, "failed_count": float64(0), "lockout_count": float64(0)}},
		{[]string{"user", "reset-2fa", u.ID}, audit.ActionTwoFactorReset, map[string]any{"had_two_factor": false, "revoked_refresh_tokens": float64(0)}},
	}
	s := openTestStore(t, db)
	seen := 0
	for _, st := range steps {
		if st.args != nil {
			if r := runUser(t, "", false, st.args...); r.code != 0 {
				t.Fatalf("%v: exit %d: %s", st.args, r.code, r.errOut)
			}
		}
		evs, err := s.ListAudit(context.Background(), store.AuditFilter{UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if st.action != "" {
			seen++
		}
		if len(evs) != seen {
			t.Fatalf("%v: %d events, want %d", st.args, len(evs), seen)
		}
		if st.action == "" {
			continue
		}
		ev := evs[0]
		if ev.Action != st.action || ev.UserID != u.ID || ev.Resource != "user:"+u.ID || ev.IP != "" ||
			ev.UserAgent != "repairxctl/1.2.3" || ev.Result != audit.ResultSuccess || !ev.Timestamp.Equal(userTestNow) {
			t.Errorf("%v: event %+v", st.args, ev)
		}
		want := map[string]any{"operator": "opal"}
		for k, v := range st.details {
			want[k] = v
		}
		if len(ev.Details) != len(want) {
			t.Errorf("%v: details %v, want %v", st.args, ev.Details, want)
		}
		for k, v := range want {
			if ev.Details[k] != v {
				t.Errorf("%v: details[%s] = %#v, want %#v", st.args, k, ev.Details[k], v)
			}
		}
	}
}

func TestUserUnlockLockedAccount(t *testing.T) {
	db := userEnv(t)
	u := mustCreate(t, "a@b.test", "technician", "pw-long-enough")
	s := openTestStore(t, db)
	ctx := context.Background()
	policy := store.LockoutPolicy{Threshold: 2, BaseLock: time.Hour}
	for range 2 {
		if _, err := s.RecordFailure(ctx, u.ID, userTestNow.Add(-time.Minute), policy); err != nil {
			t.Fatal(err)
		}
	}
	r := runUser(t, "", false, "user", "unlock", "a@b.test", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var res userUnlockResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.WasLocked || res.LockedUntil == nil || !res.LockedUntil.Equal(userTestNow.Add(59*time.Minute)) || res.LockoutCount != 1 {
		t.Errorf("result %+v", res)
	}
	l, err := s.Lockout(ctx, u.ID)
	if err != nil || l.Locked(userTestNow) || l.LockoutCount != 0 || l.FailedCount != 0 {
		t.Errorf("after unlock: %+v, %v", l, err)
	}
	r = runUser(t, "", false, "user", "unlock", "a@b.test")
	if r.code != 0 || !strings.Contains(r.errOut, "was not locked") {
		t.Errorf("second unlock: %d %q", r.code, r.errOut)
	}
}

func TestUserReset2FAAndDisableEndSessions(t *testing.T) {
	db := userEnv(t)
	u := mustCreate(t, "a@b.test", "owner", "pw-long-enough")
	s := openTestStore(t, db)
	ctx := context.Background()
	if err := s.SaveTOTPSecret(ctx, u.ID, []byte("sealed"), "k1", userTestNow); err != nil {
		t.Fatal(err)
	}
	if err := s.EnableTOTP(ctx, u.ID, [][]byte{store.HashToken("c1"), store.HashToken("c2")}, userTestNow); err != nil {
		t.Fatal(err)
	}
	issue := func(tok string) {
		t.Helper()
		_, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, TokenHash: store.HashToken(tok),
			CreatedAt: userTestNow, ExpiresAt: userTestNow.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	issue("t1")
	issue("t2")

	r := runUser(t, "", false, "user", "reset-2fa", "a@b.test", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var res userReset2FAResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.HadTwoFactor || res.RevokedRefreshTokens != 2 || res.User.TwoFactorEnabled {
		t.Errorf("result %+v", res)
	}
	if _, err := s.TOTPState(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TOTP state after reset: %v", err)
	}
	if !strings.Contains(r.errOut, "must enrol a new authenticator") {
		t.Errorf("stderr %q", r.errOut)
	}

	issue("t3")
	if r := runUser(t, "", false, "user", "disable", "a@b.test"); r.code != 0 {
		t.Fatalf("disable: exit %d: %s", r.code, r.errOut)
	}
	toks, err := s.ListRefreshTokens(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.RevokedAt == nil {
			t.Errorf("token %s survived disable", tok.ID)
		}
	}
}

func TestUserListTerminalVsPiped(t *testing.T) {
	userEnv(t)
	mustCreate(t, "b@b.test", "customer", "pw-long-enough")
	mustCreate(t, "a@b.test", "admin", "pw-long-enough", "--org", "Acme")
	piped := runUser(t, "", false, "user", "list")
	lines := strings.Split(strings.TrimSuffix(piped.out, "\n"), "\n")
	if piped.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "a@b.test\tadmin\tAcme\tactive\toff\t2026-11-23T10:00:00Z\t") ||
		!strings.HasPrefix(lines[1], "b@b.test\tcustomer\tdefault\t") {
		t.Fatalf("piped list = %d %q", piped.code, piped.out)
	}
	term := runUser(t, "", true, "user", "list", "--no-color")
	if term.code != 0 || strings.Contains(term.out, "\t") || strings.Contains(term.out, "\x1b[") {
		t.Fatalf("terminal list = %d %q", term.code, term.out)
	}
	for _, want := range []string{"EMAIL", "ROLE", "ORGANISATION", "STATUS", "2FA", "CREATED", "just now", "a@b.test"} {
		if !strings.Contains(term.out, want) {
			t.Errorf("terminal list lacks %q:\n%s", want, term.out)
		}
	}
}

// TestUserCreatePrompt drives the terminal path with a scripted prompt.
func TestUserCreatePrompt(t *testing.T) {
	userEnv(t)
	tests := []struct {
		name    string
		answers []string
		code    int
		err     string
	}{
		{"match", []string{"pw-long-enough", "pw-long-enough"}, 0, ""},
		{"mismatch", []string{"pw-long-enough", "pw-long-enougH"}, exitcode.Usage, "do not match"},
		{"short", []string{"short"}, exitcode.Usage, "too short"},
		{"interrupted", nil, exitcode.Interrupted, "canceled"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, errOut := ui.Test()
			f := NewFactory(ios)
			f.Now = func() time.Time { return userTestNow }
			var prompts []string
			cmd := newUserCreateCmd(f, func(o *UserCreateOptions) error {
				o.Config = func() (*config.Config, error) {
					return &config.Config{DataDir: "data", Output: "table", Auth: config.AuthConfig{BcryptCost: 10}}, nil
				}
				o.Prompt = func(ctx context.Context, prompt string) (string, error) {
					prompts = append(prompts, prompt)
					if len(tt.answers) == 0 {
						return "", context.Canceled
					}
					a := tt.answers[0]
					tt.answers = tt.answers[1:]
					return a, nil
				}
				return userCreateRun(context.Background(), o)
			})
			email := fmt.Sprintf("p%d@b.test", i)
			cmd.SetArgs([]string{"--email", email, "--role", "customer"})
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if code := exitcode.Code(err); code != tt.code || (tt.err != "" && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("exit %d (%v), want %d %q; stderr %s", code, err, tt.code, tt.err, errOut)
			}
			if len(prompts) == 0 || !strings.HasPrefix(prompts[0], "Password for p") {
				t.Errorf("prompts %q", prompts)
			}
			if tt.code != 0 {
				s := openTestStore(t, filepath.Join("data", sqlite.DefaultFileName))
				if _, err := s.UserByEmail(context.Background(), email); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a failed create left a user: %v", err)
				}
			}
		})
	}
}
