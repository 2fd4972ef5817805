package audit

import "time"

// Event is one audit record in the platform's format.
type Event struct {
	// Timestamp is when the action happened, in UTC.
	Timestamp time.Time `json:"timestamp"`
	// UserID is the acting or affected user's id; empty when no user is
	// known (a login attempt for an unknown e-mail address, an IP block).
	UserID string `json:"userId"`
	// IP is the client IP address as the server determined it.
	IP string `json:"ip"`
	// UserAgent is the client's User-Agent header, as sent.
	UserAgent string `json:"userAgent"`
	// Action is what happened: one of the Action constants.
	Action string `json:"action"`
	// Resource is what the action was on: a route, a user id, an IP.
	Resource string `json:"resource"`
	// Result is ResultSuccess, ResultFailure or ResultBlocked.
	Result string `json:"result"`
	// Details holds action-specific fields (the reason of a failure, a
	// role's old and new value). Never secrets, tokens or passwords.
	Details map[string]any `json:"details,omitempty"`
}

// Actions recorded by the server (issue 4's list) and by the user commands.
const (
	ActionLogin             = "auth.login"
	ActionLogout            = "auth.logout"
	ActionRefreshTokenReuse = "auth.refresh_token_reuse"
	ActionTwoFactorSetup    = "auth.2fa.setup"
	ActionTwoFactorVerify   = "auth.2fa.verify"
	ActionTwoFactorDisable  = "auth.2fa.disable"
	ActionLockout           = "auth.lockout"
	ActionIPBlock           = "security.ip_block"
	ActionAttackBlocked     = "security.attack_blocked"
	ActionRoleChange        = "user.role_change"

	// Operator actions from `repairxctl user`.
	ActionUserCreate     = "user.create"
	ActionUserDisable    = "user.disable"
	ActionUserEnable     = "user.enable"
	ActionUserUnlock     = "user.unlock"
	ActionTwoFactorReset = "user.2fa_reset"
)

// Results of an action.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	// ResultBlocked means the request was refused before it was attempted:
	// a rate limit, an IP block, a lockout, the attack screen.
	ResultBlocked = "blocked"
)
