package backup

import (
	"errors"
	"fmt"
	"time"
)

// The errors a caller branches on, with errors.Is. The CLI maps ErrNotFound
// to exit code 10, ErrLocked to 11, ErrIntegrity to 12 and
// repo.ErrUnavailable, which passes through wrapped, to 75.
var (
	// ErrNotFound: no such backup (an unknown id, no backup before a time,
	// no complete backup of a source). ErrIncomplete is also ErrNotFound.
	ErrNotFound = errors.New("no such backup")

	// ErrLocked: another run holds the source's lock. The error is a
	// *LockedError naming the holder.
	ErrLocked = errors.New("locked by another run")

	// ErrIntegrity: the backup cannot be trusted or read with the given keys:
	// a wrong identity, a failed authentication tag, a checksum or size that
	// differs from the manifest, a truncated object, a damaged manifest, or
	// a restore test whose data differs from the manifest.
	ErrIntegrity = errors.New("integrity check failed")

	// ErrIncomplete: the backup has no manifest (its run failed, was killed
	// or is still running), so it is never restored. errors.Is(err,
	// ErrNotFound) is true for it too.
	ErrIncomplete error = incompleteError{}

	// ErrIdentityRequired: the backup is encrypted and no identity (or
	// passphrase) was given. A usage error rather than a wrong key.
	ErrIdentityRequired = errors.New("the backup is encrypted: an identity is needed to read it")

	// ErrBadReference: the caller named a backup or source in a way that
	// cannot work (not latest, an id nor a time; a source name that is not
	// one; an id or a repository holding several sources where one must be
	// named). A usage error: retrying the same words cannot help.
	ErrBadReference = errors.New("invalid backup reference")

	// ErrTargetNotEmpty: a restore target (database, directory, file) holds
	// data and Target.Force was not set.
	ErrTargetNotEmpty = errors.New("the restore target is not empty")
)

// refError is an ErrBadReference whose message is its own.
type refError struct{ msg string }

func (e *refError) Error() string        { return e.msg }
func (e *refError) Is(target error) bool { return target == ErrBadReference }

func badRef(format string, args ...any) error { return &refError{fmt.Sprintf(format, args...)} }

type incompleteError struct{}

func (incompleteError) Error() string {
	return "the backup is incomplete (it has no manifest)"
}

// Is makes an incomplete backup count as not found.
func (incompleteError) Is(target error) bool { return target == ErrNotFound }

// LockedError is the error of a run that found its source locked.
type LockedError struct {
	Source string
	Holder LockInfo
}

func (e *LockedError) Error() string {
	h := e.Holder
	return fmt.Sprintf("source %q is locked by another run: %s on host %s (pid %d) since %s, lock expires %s; "+
		"wait for it to finish, or remove the lock if that run is gone",
		e.Source, h.Operation, h.Host, h.PID, h.Started.UTC().Format(time.RFC3339), h.Expires.UTC().Format(time.RFC3339))
}

// Is makes a LockedError match ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// integrityf returns an ErrIntegrity error about the backup ref.
func integrityf(ref Ref, format string, args ...any) error {
	return fmt.Errorf("%w: backup %s: %s", ErrIntegrity, ref, fmt.Sprintf(format, args...))
}
