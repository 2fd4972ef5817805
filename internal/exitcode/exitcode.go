// Package exitcode defines the process exit codes shared by every repairxctl
// command and the error type that carries one from a command to Main.
//
// The table is documented in docs/exit-codes.md; a test keeps the two in step.
package exitcode

import (
	"context"
	"errors"
	"fmt"
)

// The exit codes. Values are part of the public interface: cron jobs and CI
// pipelines branch on them, so a code never changes meaning once released.
const (
	OK          = 0   // success, including "nothing found"
	Failure     = 1   // the command failed
	Usage       = 2   // usage or configuration error
	Findings    = 3   // the command ran and what it checked did not pass
	Denied      = 4   // authentication or permission denied
	NotFound    = 10  // no such backup, secret, runbook
	Locked      = 11  // another run holds the lock
	Integrity   = 12  // wrong key, checksum mismatch or failed authentication tag
	TempFail    = 75  // a service was unreachable or answered 5xx: safe to retry
	Interrupted = 130 // interrupted by SIGINT or SIGTERM
)

// Table lists every exit code with its one-line meaning, in ascending order.
// docs/exit-codes.md is checked against it.
var Table = []struct {
	Code    int
	Name    string
	Meaning string
}{
	{OK, "ok", "success, including \"nothing found\""},
	{Failure, "failure", "the command failed"},
	{Usage, "usage", "usage or configuration error: a bad flag, argument or config value"},
	{Findings, "findings", "the command ran and what it checked did not pass (invalid rules, failed checks, verify mismatch)"},
	{Denied, "denied", "authentication or permission denied"},
	{NotFound, "not-found", "not found (no such backup, secret, runbook)"},
	{Locked, "locked", "another run holds the lock"},
	{Integrity, "integrity", "wrong key, or a decryption or integrity failure"},
	{TempFail, "tempfail", "temporary failure (a service unreachable or 5xx): safe to retry"},
	{Interrupted, "interrupted", "interrupted (SIGINT or SIGTERM)"},
}

// Error is an error that carries the exit code the process should end with.
type Error struct {
	Code int
	Err  error
	// Silent errors are not printed by Main: the command has already told the
	// user (a findings report on stdout, for instance).
	Silent bool
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New wraps err so that it ends the process with code. A nil err stays nil.
func New(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Usagef returns a usage error (exit code 2) with a formatted message.
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// Findingsf returns a silent findings error (exit code 3): the report itself
// is the message, so Main prints nothing more.
func Findingsf(format string, args ...any) error {
	return &Error{Code: Findings, Err: fmt.Errorf(format, args...), Silent: true}
}

// Code returns the exit code for err: 0 for nil, the carried code for an
// *Error, 130 for a cancelled context and 1 for anything else.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return Failure
}

// IsSilent reports whether err should not be printed by Main.
func IsSilent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Silent
}
