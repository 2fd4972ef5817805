package commands

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
)

// UserDisableOptions are the inputs of `user disable` and `user enable`.
type UserDisableOptions struct {
	UserOptions

	User    string // e-mail address or id
	Disable bool   // false: enable
}

type userDisableResult struct {
	FormatVersion int      `json:"format_version"`
	User          userView `json:"user"`
	Changed       bool     `json:"changed"`
}

func newUserDisableCmd(f *Factory, runF func(*UserDisableOptions) error) *cobra.Command {
	return newUserSetDisabledCmd(f, runF, true, &cobra.Command{
		Use:   "disable USER",
		Short: "Disable an account and end its sessions",
		Long: `Disable the account USER (an e-mail address or id): it can no longer sign in,
and all its refresh tokens are revoked in the same step, so no session
outlives it by more than an access token's lifetime (auth.access_ttl).
Nothing is deleted: 'user enable' undoes it. A user.disable audit event is
written (details.disabled true); disabling a disabled account changes
nothing. A warning is printed when no enabled admin or owner is left.

Exit status: 0 disabled, or already disabled; 10 no such user; 2 bad usage
or configuration; 1 the store failed.`,
		Example: `  repairxctl user disable leaver@example.com`,
	})
}

func newUserSetDisabledCmd(f *Factory, runF func(*UserDisableOptions) error, disable bool, cmd *cobra.Command) *cobra.Command {
	opts := &UserDisableOptions{Disable: disable}
	cmd.Args = usageArgs(cobra.ExactArgs(1))
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.User = args[0]
		userOptions(f, &opts.UserOptions)
		if runF != nil {
			return runF(opts)
		}
		return userDisableRun(cmd.Context(), opts)
	}
	return cmd
}

func userDisableRun(ctx context.Context, opts *UserDisableOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()
	u, err := us.find(ctx, opts.User)
	if err != nil {
		return err
	}
	res := userDisableResult{FormatVersion: 1}
	if u.Disabled != opts.Disable {
		if err := us.s.SetDisabled(ctx, u.ID, opts.Disable, us.now()); err != nil {
			return storeError(err)
		}
		res.Changed = true
		// The audit package has one action for both directions; the
		// details tell them apart.
		action := audit.ActionUserEnable
		if opts.Disable {
			action = audit.ActionUserDisable
		}
		if err := us.audit(ctx, action, u, map[string]any{"disabled": opts.Disable}); err != nil {
			return err
		}
	}
	if res.User, err = us.reread(ctx, u); err != nil {
		return err
	}
	if err := us.printUser(res, res.User); err != nil {
		return err
	}
	state := "enabled"
	if opts.Disable {
		state = "disabled"
	}
	if !res.Changed {
		us.note("%s is already %s: nothing changed", u.Email, state)
		return nil
	}
	us.done("%s %s", state, u.Email)
	if opts.Disable && u.Role.RequiresTwoFactor() {
		us.warnIfNoAdmin(ctx)
	}
	return nil
}
