package commands

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
)

// UserUnlockOptions are the inputs of `user unlock`.
type UserUnlockOptions struct {
	UserOptions

	User string // e-mail address or id
}

type userUnlockResult struct {
	FormatVersion int      `json:"format_version"`
	User          userView `json:"user"`
	// WasLocked: logins were refused until LockedUntil when unlocked.
	WasLocked   bool       `json:"was_locked"`
	LockedUntil *time.Time `json:"locked_until"`
	// FailedCount and LockoutCount are the counters that were cleared.
	FailedCount  int `json:"failed_count"`
	LockoutCount int `json:"lockout_count"`
}

func newUserUnlockCmd(f *Factory, runF func(*UserUnlockOptions) error) *cobra.Command {
	opts := &UserUnlockOptions{}
	return &cobra.Command{
		Use:   "unlock USER",
		Short: "Lift an account's login lockout",
		Long: `Lift the login lockout of the account USER (an e-mail address or id) and clear
its failed-login and lockout counters, so the next lockout is a first one
again (auth.lockout.duration, not a doubled one). It does not enable a
disabled account ('user enable') or reset 2FA ('user reset-2fa'). The
cleared state is printed and a user.unlock audit event is written, also when
the account was not locked.

Exit status: 0 unlocked; 10 no such user; 2 bad usage or configuration;
1 the store failed.`,
		Example: `  repairxctl user unlock tech@example.com
  repairxctl user unlock tech@example.com -o json | jq .was_locked`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.User = args[0]
			userOptions(f, &opts.UserOptions)
			if runF != nil {
				return runF(opts)
			}
			return userUnlockRun(cmd.Context(), opts)
		},
	}
}

func userUnlockRun(ctx context.Context, opts *UserUnlockOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()
	u, err := us.find(ctx, opts.User)
	if err != nil {
		return err
	}
	before, err := us.s.Lockout(ctx, u.ID)
	if err != nil {
		return storeError(err)
	}
	now := us.now()
	if err := us.s.Unlock(ctx, u.ID); err != nil {
		return storeError(err)
	}
	res := userUnlockResult{
		FormatVersion: 1,
		WasLocked:     before.Locked(now),
		FailedCount:   before.FailedCount,
		LockoutCount:  before.LockoutCount,
	}
	if res.WasLocked {
		until := before.LockedUntil.UTC()
		res.LockedUntil = &until
	}
	if err := us.audit(ctx, audit.ActionUserUnlock, u, map[string]any{
		"was_locked": res.WasLocked, "failed_count": res.FailedCount, "lockout_count": res.LockoutCount,
	}); err != nil {
		return err
	}
	if res.User, err = us.view(ctx, u); err != nil {
		return err
	}
	if err := us.printUser(res, res.User); err != nil {
		return err
	}
	if res.WasLocked {
		us.done("unlocked %s (was locked until %s)", u.Email, res.LockedUntil.Format(time.RFC3339))
	} else {
		us.done("%s was not locked; cleared %s and %s", u.Email, plural(res.FailedCount, "failed login"), plural(res.LockoutCount, "earlier lockout"))
	}
	if u.Disabled {
		us.note("%s is still disabled: 'repairxctl user enable %s' lets it sign in", u.Email, u.Email)
	}
	return nil
}
