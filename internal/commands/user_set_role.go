package commands

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
)

// UserSetRoleOptions are the inputs of `user set-role`.
type UserSetRoleOptions struct {
	UserOptions

	User string // e-mail address or id
	Role store.Role
}

type userSetRoleResult struct {
	FormatVersion int      `json:"format_version"`
	User          userView `json:"user"`
	PreviousRole  string   `json:"previous_role"`
	Changed       bool     `json:"changed"`
}

func newUserSetRoleCmd(f *Factory, runF func(*UserSetRoleOptions) error) *cobra.Command {
	opts := &UserSetRoleOptions{}
	return &cobra.Command{
		Use:   "set-role USER ROLE",
		Short: "Change an account's role",
		Long: `Change the role of the account USER (an e-mail address or id) to ROLE: one of
customer, technician, manager, admin, owner. The new role applies to the
account's next access token, within auth.access_ttl. Setting the role it
already has changes nothing and writes no audit event; a change writes a
user.role_change event with the old and the new role.

An account raised to admin or owner must enrol in two-factor authentication
at its next login if it has not. A warning is printed when no enabled admin
or owner is left.

Exit status: 0 changed, or the role was already ROLE; 10 no such user;
2 bad usage (an unknown role) or configuration; 1 the store failed.`,
		Example: `  repairxctl user set-role tech@example.com manager
  repairxctl user set-role 0b6f9f1e-2c1d-4a8e-9d0e-6c5b1f3a7e42 customer -o json`,
		Args: usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return completeRoles(cmd, args, toComplete)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRole("ROLE", args[1])
			if err != nil {
				return err
			}
			opts.User, opts.Role = args[0], r
			userOptions(f, &opts.UserOptions)
			if runF != nil {
				return runF(opts)
			}
			return userSetRoleRun(cmd.Context(), opts)
		},
	}
}

func userSetRoleRun(ctx context.Context, opts *UserSetRoleOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()
	u, err := us.find(ctx, opts.User)
	if err != nil {
		return err
	}
	res := userSetRoleResult{FormatVersion: 1, PreviousRole: string(u.Role)}
	if u.Role != opts.Role {
		prev, err := us.s.SetRole(ctx, u.ID, opts.Role, us.now())
		if err != nil {
			return storeError(err)
		}
		res.PreviousRole, res.Changed = string(prev), true
		if err := us.audit(ctx, audit.ActionRoleChange, u, map[string]any{
			"old_role": string(prev), "new_role": string(opts.Role),
		}); err != nil {
			return err
		}
	}
	if res.User, err = us.reread(ctx, u); err != nil {
		return err
	}
	if err := us.printUser(res, res.User); err != nil {
		return err
	}
	if !res.Changed {
		us.note("%s already has the role %s: nothing changed", u.Email, opts.Role)
		return nil
	}
	us.done("%s: role %s → %s", u.Email, res.PreviousRole, opts.Role)
	if opts.Role.RequiresTwoFactor() && !u.TwoFactorEnabled {
		us.note("%s must enrol in two-factor authentication (TOTP) at the next login", u.Email)
	}
	if store.Role(res.PreviousRole).RequiresTwoFactor() && !opts.Role.RequiresTwoFactor() {
		us.warnIfNoAdmin(ctx)
	}
	return nil
}
