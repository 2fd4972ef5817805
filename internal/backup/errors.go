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

	// ErrTargetNotEmpty: a restore target (database, directory, file) holds
	// data and Target.Force was not set.
	ErrTargetNotEmpty = errors.New("the restore target is not empty")
)

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
