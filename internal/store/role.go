package store

import (
	"fmt"
	"strings"
)

// Role is a user's role. Roles are ordered: each includes the rights of the
// ones before it.
type Role string

// The roles, lowest first.
const (
	RoleCustomer   Role = "customer"
	RoleTechnician Role = "technician"
	RoleManager    Role = "manager"
	RoleAdmin      Role = "admin"
	RoleOwner      Role = "owner"
)

// Roles lists the roles, lowest first.
func Roles() []Role {
	return []Role{RoleCustomer, RoleTechnician, RoleManager, RoleAdmin, RoleOwner}
}

// ParseRole parses a role name, ignoring case and surrounding space. An
// unknown name is an error wrapping ErrInvalid that lists the valid ones.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("%w: role %q: want one of customer, technician, manager, admin, owner", ErrInvalid, s)
	}
	return r, nil
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// RequiresTwoFactor reports whether accounts with this role must enrol in
// TOTP before they reach anything but 2FA setup.
func (r Role) RequiresTwoFactor() bool { return r == RoleAdmin || r == RoleOwner }

// AtLeast reports whether r includes the rights of min. An invalid role is at
// least nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

func (r Role) String() string { return string(r) }

func (r Role) rank() int {
	switch r {
	case RoleCustomer:
		return 1
	case RoleTechnician:
		return 2
	case RoleManager:
		return 3
	case RoleAdmin:
		return 4
	case RoleOwner:
		return 5
	}
	return 0
}
