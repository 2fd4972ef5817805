package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/ui"
)

func newUserCmd(f *Factory) *cobra.Command {
	cmd := groupCmd("user <command>", "Manage the accounts that sign in to serve", groupOperate)
	cmd.Long = `Create and manage the accounts of the RepairX API: create them, list them,
change a role, disable or re-enable an account, lift a login lockout and
reset two-factor authentication.

These commands work on the store directly, with the operator's access to
data_dir, or to the PostgreSQL database of database.url when it is set (exit
status 75 when it cannot be reached, 4 when it refuses the credentials); they
need no running serve and work beside one, and create and migrate the store
when it is missing or behind. Each
change is written to the audit log (action user.*, user agent
repairxctl/<version>, the operator taken from $USER). A user is named by
e-mail address or id. Passwords never come from flags: 'user create' prompts
on the terminal or reads one line with --password-stdin.`
	cmd.AddCommand(
		newUserCreateCmd(f, nil),
		newUserListCmd(f, nil),
		newUserSetRoleCmd(f, nil),
		newUserDisableCmd(f, nil),
		newUserEnableCmd(f, nil),
		newUserUnlockCmd(f, nil),
		newUserReset2FACmd(f, nil),
	)
	addDatabaseURLFlag(cmd.PersistentFlags())
	return cmd
}

// UserOptions are the inputs every user command shares.
type UserOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
	// OpenStore opens the store, migrating it (see openStore).
	OpenStore storeOpener
	Now       func() time.Time
	// UserAgent and Operator go into the audit events: the tool and the OS
	// user who ran it.
	UserAgent string
	Operator  string
}

// userOptions fills the shared inputs from the factory; called in RunE, after
// the flags are parsed.
func userOptions(f *Factory, o *UserOptions) {
	o.IO = f.IOStreams
	o.Config = f.Config
	o.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
	o.OpenStore = openStore
	o.Now = f.Now
	o.UserAgent = "repairxctl/" + f.Build.Version
	o.Operator = operatorName()
}

// operatorName is who runs the command, for the audit log: $USER, else the
// account's name, else its uid.
func operatorName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// userSession is an open store and what a user command needs with it.
type userSession struct {
	opts *UserOptions
	cfg  *config.Config
	p    *ui.Printer
	s    schemaStore
}

// openUserSession loads the configuration, checks the output format and
// opens (and migrates) the store. The caller closes the session.
func openUserSession(ctx context.Context, opts *UserOptions) (*userSession, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return nil, err
	}
	s, err := opts.OpenStore(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	return &userSession{opts: opts, cfg: cfg, p: p, s: s}, nil
}

func (us *userSession) Close() error { return us.s.Close() }

// now is the time of a change, in UTC.
func (us *userSession) now() time.Time { return us.opts.Now().UTC() }

// find returns the user named by ref, an e-mail address or an id; an
// unknown user is exit code 10.
func (us *userSession) find(ctx context.Context, ref string) (store.User, error) {
	var (
		u   store.User
		err error
	)
	if strings.Contains(ref, "@") {
		u, err = us.s.UserByEmail(ctx, ref)
	} else {
		u, err = us.s.UserByID(ctx, strings.TrimSpace(ref))
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, exitcode.New(exitcode.NotFound, fmt.Errorf("no user %q: name one by e-mail address or id ('repairxctl user list' shows them)", ref))
	}
	return u, err
}

// audit appends an operator event about u. The change is made by then, so
// a failure says so: the operator must not repeat it blindly.
func (us *userSession) audit(ctx context.Context, action string, u store.User, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["operator"] = us.opts.Operator
	ev := audit.Event{
		Timestamp: us.now(),
		UserID:    u.ID,
		IP:        "",
		UserAgent: us.opts.UserAgent,
		Action:    action,
		Resource:  "user:" + u.ID,
		Result:    audit.ResultSuccess,
		Details:   details,
	}
	if err := us.s.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("%s of %s was made, but its audit event could not be written: %w", action, u.Email, err)
	}
	return nil
}

// view turns u into its output form, with its organisation's name.
func (us *userSession) view(ctx context.Context, u store.User) (userView, error) {
	org, err := us.s.OrganisationByID(ctx, u.OrgID)
	if err != nil {
		return userView{}, fmt.Errorf("reading the organisation of %s: %w", u.Email, err)
	}
	return newUserView(u, org.Name), nil
}

// reread returns u as stored now, after a change.
func (us *userSession) reread(ctx context.Context, u store.User) (userView, error) {
	u, err := us.s.UserByID(ctx, u.ID)
	if err != nil {
		return userView{}, err
	}
	return us.view(ctx, u)
}

// done prints a one-line summary of a change on stderr (human output only).
func (us *userSession) done(format string, args ...any) {
	if us.p.Format != ui.Table || us.cfg.Quiet {
		return
	}
	us.opts.IO.Successf(format, args...)
}

// note prints a hint or warning on stderr, unless --quiet.
func (us *userSession) note(format string, args ...any) {
	if us.cfg.Quiet {
		return
	}
	fmt.Fprintln(us.opts.IO.ErrOut, ui.Sanitize(fmt.Sprintf(format, args...)))
}

// warnIfNoAdmin warns when no enabled admin or owner is left to run the
// platform (after a demotion or a disable).
func (us *userSession) warnIfNoAdmin(ctx context.Context) {
	for _, r := range []store.Role{store.RoleAdmin, store.RoleOwner} {
		users, err := us.s.ListUsers(ctx, store.UserFilter{Role: r})
		if err != nil {
			return
		}
		for _, u := range users {
			if !u.Disabled {
				return
			}
		}
	}
	us.note("warning: no enabled admin or owner is left; create one with 'repairxctl user create --role owner'")
}

// userView is a user in the output: never the password hash.
type userView struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Role             string    `json:"role"`
	OrgID            string    `json:"org_id"`
	Organisation     string    `json:"organisation"`
	Disabled         bool      `json:"disabled"`
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func newUserView(u store.User, orgName string) userView {
	return userView{
		ID:               u.ID,
		Email:            u.Email,
		Role:             string(u.Role),
		OrgID:            u.OrgID,
		Organisation:     orgName,
		Disabled:         u.Disabled,
		TwoFactorEnabled: u.TwoFactorEnabled,
		CreatedAt:        u.CreatedAt.UTC(),
		UpdatedAt:        u.UpdatedAt.UTC(),
	}
}

// writeUsers writes users as table rows: on a terminal with headers and
// relative times and without the id (36 columns that do not fit; users are
// named by e-mail address), piped as tab-separated fields with RFC 3339
// times and the id last.
func writeUsers(w io.Writer, ios *ui.IOStreams, now time.Time, users ...userView) error {
	headers := []string{"email", "role", "organisation", "status", "2fa", "created"}
	if !ios.IsStdoutTTY() {
		headers = append(headers, "id")
	}
	tp := ui.NewTablePrinter(ios, headers...)
	for _, u := range users {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		twoFA := "off"
		if u.TwoFactorEnabled {
			twoFA = "on"
		}
		row := []string{u.Email, u.Role, u.Organisation, status, twoFA, ios.Time(u.CreatedAt, now)}
		if !ios.IsStdoutTTY() {
			row = append(row, u.ID)
		}
		tp.AddRow(row...)
	}
	return tp.Render(w)
}

// printUser prints one user's result: the user's row in table output.
func (us *userSession) printUser(res any, u userView) error {
	return us.p.Print(res, func(w io.Writer) error {
		return writeUsers(w, us.opts.IO, us.opts.Now(), u)
	})
}

// parseRole parses a role from a flag or argument as a usage error.
func parseRole(what, s string) (store.Role, error) {
	r, err := store.ParseRole(s)
	if err != nil {
		return "", exitcode.Usagef("%s %q is not a role: use one of %s", what, s, roleNames())
	}
	return r, nil
}

func roleNames() string {
	var names []string
	for _, r := range store.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// completeRoles completes a role argument or flag.
func completeRoles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var names []string
	for _, r := range store.Roles() {
		names = append(names, string(r))
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// storeError maps the store's sentinel errors to exit codes: unknown is
// 10, rejected input 2.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return exitcode.New(exitcode.NotFound, err)
	case errors.Is(err, store.ErrInvalid):
		return exitcode.New(exitcode.Usage, err)
	}
	return err
}
