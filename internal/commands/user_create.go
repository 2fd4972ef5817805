package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/ui"
)

// defaultOrganisation is the organisation users join without --org.
const defaultOrganisation = "default"

// UserCreateOptions are the inputs of `user create`.
type UserCreateOptions struct {
	UserOptions

	Email         string // normalised
	Role          store.Role
	Org           string
	PasswordStdin bool
	// Prompt reads a password on the terminal without echo; nil when stdin
	// is not a terminal.
	Prompt func(ctx context.Context, prompt string) (string, error)
}

type userCreateResult struct {
	FormatVersion int      `json:"format_version"`
	User          userView `json:"user"`
	// OrganisationCreated is true when the organisation did not exist.
	OrganisationCreated bool `json:"organisation_created"`
}

func newUserCreateCmd(f *Factory, runF func(*UserCreateOptions) error) *cobra.Command {
	opts := &UserCreateOptions{}
	var email, role string
	cmd := &cobra.Command{
		Use:   "create --email EMAIL --role ROLE [--org NAME] [--password-stdin]",
		Short: "Create an account",
		Long: `Create an account with an e-mail address, a role and a password, in an
organisation (default "default", created when missing).

Roles, lowest first: customer, technician, manager, admin, owner; each
includes the rights of the ones before it. Admins and owners must enrol in
two-factor authentication (TOTP) at their first login and reach nothing else
until they have.

The password is never a flag (it would show in ps and the shell history).
On a terminal it is asked for twice, without echo. Otherwise give
--password-stdin: the first line of stdin is the password (the trailing
newline, \n or \r\n, is not part of it). A password has at least 8 characters
and at most 72 bytes of UTF-8 (bcrypt reads no more than 72, so a longer one
is refused rather than cut short); it is stored as a bcrypt hash at
auth.bcrypt_cost.

First run: serve starts with no accounts, and nobody can sign in until an
operator creates the first one here, on the host, with serve's data_dir
(the same config file or --data-dir) and as the OS user serve runs as
(repairx below), since the store is readable by its owner only (0600). It
works before serve was ever started (it creates and migrates the store) and
while serve runs:

  sudo -u repairx repairxctl --config /etc/repairxctl/config.yaml \
      user create --role owner --email you@example.com

Then sign in through the API with that address and password. As an owner
(or admin) the first login reaches nothing but TOTP enrolment: enrol an
authenticator app, confirm a code, and keep the backup codes it shows.
Further accounts can come from the API or from here.

The new account is printed (never its password hash) and a user.create
audit event is written.

Exit status: 0 created; 2 bad usage: a missing or bad --email or --role, a
password that is too short, too long or does not match its repetition, no
terminal to prompt on without --password-stdin, an e-mail address that
already has an account (choose another, or change that account with 'user
set-role'), or a bad configuration; 1 the store failed.`,
		Example: `  # The first account, on the host, prompting for the password
  repairxctl user create --role owner --email owner@example.com

  # From a script or a secret manager
  printf '%s\n' "$PASSWORD" | repairxctl user create --email tech@example.com \
      --role technician --org "Fixit Ltd" --password-stdin

  # As JSON, for the new id
  repairxctl user create --email m@example.com --role manager --password-stdin -o json < pw.txt | jq -r .user.id`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRole("--role", role)
			if err != nil {
				return err
			}
			opts.Role = r
			opts.Email = store.NormaliseEmail(email)
			if err := store.ValidateEmail(opts.Email); err != nil {
				return exitcode.Usagef("--email: %s", strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
			}
			if opts.Org == "" {
				return exitcode.Usagef("--org is empty: leave it out for the organisation %q", defaultOrganisation)
			}
			userOptions(f, &opts.UserOptions)
			opts.Prompt = terminalPrompt(f.IOStreams)
			if runF != nil {
				return runF(opts)
			}
			return userCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&email, "email", "", "the account's e-mail `ADDRESS` (its sign-in name; case is ignored)")
	fl.StringVar(&role, "role", "", "the account's `ROLE`: customer, technician, manager, admin or owner")
	fl.StringVar(&opts.Org, "org", defaultOrganisation, "the organisation's `NAME` (created when missing)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin instead of prompting")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles)
	_ = cmd.RegisterFlagCompletionFunc("email", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("org", cobra.NoFileCompletions)
	return cmd
}

func userCreateRun(ctx context.Context, opts *UserCreateOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()

	// Refuse a taken address before asking for a password.
	if existing, err := us.s.UserByEmail(ctx, opts.Email); err == nil {
		return duplicateEmail(existing.Email)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pw, err := readNewPassword(ctx, opts)
	if err != nil {
		return err
	}
	hasher, err := auth.NewHasher(us.cfg.Auth.BcryptCost)
	if err != nil {
		return exitcode.New(exitcode.Usage, us.cfg.Invalid("auth.bcrypt_cost", "%v", err))
	}
	hash, err := hasher.Hash(pw)
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}

	now := us.now()
	_, err = us.s.OrganisationByName(ctx, opts.Org)
	orgCreated := errors.Is(err, store.ErrNotFound)
	if err != nil && !orgCreated {
		return storeError(err)
	}
	org, err := us.s.EnsureOrganisation(ctx, opts.Org, now)
	if err != nil {
		return storeError(err)
	}
	u, err := us.s.CreateUser(ctx, store.User{
		OrgID:        org.ID,
		Email:        opts.Email,
		PasswordHash: hash,
		Role:         opts.Role,
		CreatedAt:    now,
	})
	if errors.Is(err, store.ErrConflict) {
		// Created by someone else since the check above.
		return duplicateEmail(opts.Email)
	}
	if err != nil {
		return storeError(err)
	}
	if err := us.audit(ctx, audit.ActionUserCreate, u, map[string]any{
		"email": u.Email, "role": string(u.Role), "organisation": org.Name,
	}); err != nil {
		return err
	}

	view := newUserView(u, org.Name)
	res := userCreateResult{FormatVersion: 1, User: view, OrganisationCreated: orgCreated}
	if err := us.printUser(res, view); err != nil {
		return err
	}
	if orgCreated && org.Name != defaultOrganisation {
		// A new organisation may be a typo of an existing one.
		us.note("created organisation %q", org.Name)
	}
	us.done("created %s %s in organisation %q", u.Role, u.Email, org.Name)
	if u.Role.RequiresTwoFactor() {
		us.note("%s must enrol in two-factor authentication (TOTP) at the first login", u.Email)
	}
	return nil
}

func duplicateEmail(email string) error {
	return exitcode.Usagef("a user with the e-mail address %s already exists: choose another address, or change that account with 'repairxctl user set-role' or 'user enable'", email)
}

// maxPasswordLine bounds what --password-stdin reads: far beyond the longest
// password accepted, so an over-long one is refused, not cut short.
const maxPasswordLine = 4096

// readNewPassword gets the new password from the first line of stdin or,
// on a terminal, from two prompts, and validates it.
func readNewPassword(ctx context.Context, opts *UserCreateOptions) (string, error) {
	if opts.PasswordStdin {
		pw, err := readPasswordLine(opts.IO.In)
		if err != nil {
			return "", err
		}
		if err := auth.ValidatePassword(pw); err != nil {
			return "", exitcode.New(exitcode.Usage, err)
		}
		return pw, nil
	}
	if opts.Prompt == nil {
		return "", exitcode.Usagef("stdin is not a terminal, so the password cannot be prompted for: " +
			"give it on stdin with --password-stdin (printf '%%s\\n' \"$PASSWORD\" | repairxctl user create ... --password-stdin)")
	}
	pw, err := opts.Prompt(ctx, fmt.Sprintf("Password for %s: ", ui.Sanitize(opts.Email)))
	if err != nil {
		return "", err
	}
	if err := auth.ValidatePassword(pw); err != nil {
		return "", exitcode.New(exitcode.Usage, err)
	}
	again, err := opts.Prompt(ctx, "Repeat the password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", exitcode.Usagef("the passwords do not match: nothing was created")
	}
	return pw, nil
}

// readPasswordLine reads one line and strips its line ending (\n or \r\n);
// a last line without one is taken whole.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if line == "" {
		return "", exitcode.Usagef("--password-stdin: stdin is empty: pipe the password in, as in printf '%%s\\n' \"$PASSWORD\" | repairxctl user create ... --password-stdin")
	}
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	return line, nil
}

// terminalPrompt returns a prompt that reads a password without echo from
// stdin, or nil when stdin is not a terminal. The prompt goes to stderr.
// Interrupted, it restores the terminal's echo before returning.
func terminalPrompt(ios *ui.IOStreams) func(ctx context.Context, prompt string) (string, error) {
	f, ok := ios.In.(*os.File)
	if !ok || !ios.IsStdinTTY() {
		return nil
	}
	fd := int(f.Fd())
	return func(ctx context.Context, prompt string) (string, error) {
		state, err := term.GetState(fd)
		if err != nil {
			return "", fmt.Errorf("reading the terminal's state: %w", err)
		}
		fmt.Fprint(ios.ErrOut, prompt)
		type result struct {
			pw  []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			pw, err := term.ReadPassword(fd)
			done <- result{pw, err}
		}()
		select {
		case r := <-done:
			fmt.Fprintln(ios.ErrOut)
			if r.err != nil {
				return "", fmt.Errorf("reading the password: %w", r.err)
			}
			return string(r.pw), nil
		case <-ctx.Done():
			_ = term.Restore(fd, state)
			fmt.Fprintln(ios.ErrOut)
			return "", exitcode.New(exitcode.Interrupted, fmt.Errorf("interrupted: %w", ctx.Err()))
		}
	}
}
