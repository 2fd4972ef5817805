package commands

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/audit"
)

// UserReset2FAOptions are the inputs of `user reset-2fa`.
type UserReset2FAOptions struct {
	UserOptions

	User string // e-mail address or id
}

type userReset2FAResult struct {
	FormatVersion int      `json:"format_version"`
	User          userView `json:"user"`
	// HadTwoFactor: TOTP was enabled before the reset.
	HadTwoFactor bool `json:"had_two_factor"`
	// RevokedRefreshTokens counts the sessions ended.
	RevokedRefreshTokens int `json:"revoked_refresh_tokens"`
}

func newUserReset2FACmd(f *Factory, runF func(*UserReset2FAOptions) error) *cobra.Command {
	opts := &UserReset2FAOptions{}
	return &cobra.Command{
		Use:   "reset-2fa USER",
		Short: "Remove an account's two-factor authentication and end its sessions",
		Long: `Remove the TOTP secret and the backup codes of the account USER (an e-mail
address or id), for someone who lost their authenticator and their codes,
and revoke all its refresh tokens so that every session must sign in again.
Admins and owners have to enrol a new authenticator at their next login;
other roles may. Check who is asking before you run it: it removes the
second factor. A user.2fa_reset audit event is written.

Exit status: 0 reset (also when the account had no 2FA); 10 no such user;
2 bad usage or configuration; 1 the store failed.`,
		Example:           `  repairxctl user reset-2fa owner@example.com`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.User = args[0]
			userOptions(f, &opts.UserOptions)
			if runF != nil {
				return runF(opts)
			}
			return userReset2FARun(cmd.Context(), opts)
		},
	}
}

func userReset2FARun(ctx context.Context, opts *UserReset2FAOptions) error {
	us, err := openUserSession(ctx, &opts.UserOptions)
	if err != nil {
		return err
	}
	defer us.Close()
	u, err := us.find(ctx, opts.User)
	if err != nil {
		return err
	}
	now := us.now()
	if err := us.s.DisableTOTP(ctx, u.ID, now); err != nil {
		return storeError(err)
	}
	revoked, err := us.s.RevokeUserRefreshTokens(ctx, u.ID, now)
	if err != nil {
		// The second factor is gone already: say so, so that the operator
		// retries rather than assumes nothing happened.
		return fmt.Errorf("the 2FA of %s was removed, but its sessions could not be revoked (run the command again): %w", u.Email, err)
	}
	res := userReset2FAResult{FormatVersion: 1, HadTwoFactor: u.TwoFactorEnabled, RevokedRefreshTokens: revoked}
	if err := us.audit(ctx, audit.ActionTwoFactorReset, u, map[string]any{
		"had_two_factor": res.HadTwoFactor, "revoked_refresh_tokens": revoked,
	}); err != nil {
		return err
	}
	if res.User, err = us.reread(ctx, u); err != nil {
		return err
	}
	if err := us.printUser(res, res.User); err != nil {
		return err
	}
	us.done("reset 2FA of %s and ended %s", u.Email, plural(revoked, "session"))
	if u.Role.RequiresTwoFactor() {
		us.note("%s must enrol a new authenticator at the next login", u.Email)
	}
	return nil
}
