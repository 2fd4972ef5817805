package commands

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/ui"
)

// UserListOptions are the inputs of `user list`.
type UserListOptions struct {
	UserOptions

	Role     store.Role // "" for all
	Org      string     // "" for all
	Disabled bool       // only disabled accounts
}

type userListResult struct {
	FormatVersion int         `json:"format_version"`
	Users         []userView  `json:"users"`
	Summary       userSummary `json:"summary"`
}

type userSummary struct {
	Users            int `json:"users"`
	Disabled         int `json:"disabled"`
	TwoFactorEnabled int `json:"two_factor_enabled"`
}

func newUserListCmd(f *Factory, runF func(*UserListOptions) error) *cobra.Command {
	opts := &UserListOptions{}
	var role string
	cmd := &cobra.Command{
		Use:     "list [--role ROLE] [--org NAME] [--disabled]",
		Aliases: []string{"ls"},
		Short:   "List accounts",
		Long: `List the accounts, sorted by e-mail address: role, organisation, whether the
account is disabled and has two-factor authentication, when it was created,
and its id. Password hashes are never shown.

On a terminal the list is a table (without ids: -o json has them); piped,
each account is one line of tab-separated fields without a header: e-mail,
role, organisation, active|disabled, on|off for 2FA, creation time in
RFC 3339, id.

Exit status: 0 listed, also when no account matches; 10 the --org
organisation does not exist; 2 bad usage (an unknown role) or configuration;
1 the store failed.`,
		Example: `  repairxctl user list
  repairxctl user list --role owner
  repairxctl user list --org "Fixit Ltd" -o json | jq -r '.users[].email'
  repairxctl user list --disabled`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != "" {
				r, err := parseRole("--role", role)
				if err != nil {
					return err
				}
				opts.Role = r
			}
			userOptions(f, &opts.UserOptions)
			if runF != nil {
				return runF(opts)
			}
			return userListRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&role, "role", "", "only accounts with this `ROLE`")
	fl.StringVar(&opts.Org, "org", "", "only accounts of the organisation `NAME`")
	fl.BoolVar(&opts.Disabled, "disabled", false, "only disabled accounts")
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles)
	_ = cmd.RegisterFlagCompletionFunc("org", cobra.NoFileCompletions)
	return cmd
}

func userListRun(ctx context.Context, opts *UserListOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()

	filter := store.UserFilter{Role: opts.Role}
	if opts.Org != "" {
		org, err := us.s.OrganisationByName(ctx, opts.Org)
		if errors.Is(err, store.ErrNotFound) {
			return exitcode.New(exitcode.NotFound, fmt.Errorf("--org: no organisation is named %q", opts.Org))
		}
		if err != nil {
			return err
		}
		filter.OrgID = org.ID
	}
	orgs, err := us.s.ListOrganisations(ctx)
	if err != nil {
		return err
	}
	orgNames := make(map[string]string, len(orgs))
	for _, o := range orgs {
		orgNames[o.ID] = o.Name
	}
	users, err := us.s.ListUsers(ctx, filter)
	if err != nil {
		return err
	}

	res := userListResult{FormatVersion: 1, Users: []userView{}}
	for _, u := range users {
		if opts.Disabled && !u.Disabled {
			continue
		}
		v := newUserView(u, orgNames[u.OrgID])
		res.Users = append(res.Users, v)
		res.Summary.Users++
		if v.Disabled {
			res.Summary.Disabled++
		}
		if v.TwoFactorEnabled {
			res.Summary.TwoFactorEnabled++
		}
	}
	err = us.p.Print(res, func(w io.Writer) error {
		return writeUsers(w, us.opts.IO, us.opts.Now(), res.Users...)
	})
	if err != nil {
		return err
	}
	if len(res.Users) == 0 && us.p.Format == ui.Table {
		us.note("no accounts match")
	}
	return nil
}
