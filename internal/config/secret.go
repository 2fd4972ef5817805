package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Secret is a setting that holds a secret: a literal value, "file:PATH" (the
// file's content, one trailing newline removed) or "env:NAME" (an environment
// variable). Secrets are never flag values, and every way of printing a Secret
// (fmt, JSON, YAML) shows its redacted form; only Resolve reveals it.
type Secret string

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsSet reports whether a value or reference is configured.
func (s Secret) IsSet() bool { return s != "" }

// Reference returns the kind of secret: "file", "env", "literal" or "" when unset.
func (s Secret) Reference() string {
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(string(s), "file:"):
		return "file"
	case strings.HasPrefix(string(s), "env:"):
		return "env"
	default:
		return "literal"
	}
}

// Redacted is the form shown to people: references stay visible because they
// hold no secret, literals become "<redacted>".
func (s Secret) Redacted() string {
	switch s.Reference() {
	case "file", "env", "":
		return string(s)
	default:
		return redactedPlaceholder
	}
}

// String returns the redacted form so that a Secret never leaks through fmt.
func (s Secret) String() string { return s.Redacted() }

// GoString returns the redacted form so that %#v does not leak either.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.Redacted()) }

// MarshalText returns the redacted form (used by JSON and YAML encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Redacted()), nil }

// Check validates the reference's syntax without reading anything.
func (s Secret) Check() error {
	switch s.Reference() {
	case "file":
		if strings.TrimPrefix(string(s), "file:") == "" {
			return errors.New(`"file:" needs a path, as in file:/etc/repairxctl/db-url`)
		}
	case "env":
		name := strings.TrimPrefix(string(s), "env:")
		if !envNameRE.MatchString(name) {
			return fmt.Errorf("%q is not an environment variable name", name)
		}
	case "literal":
		if s == redactedPlaceholder {
			return errors.New("holds the placeholder " + redactedPlaceholder + " (copied from config show?): give the secret, file:PATH or env:NAME")
		}
	}
	return nil
}

const redactedPlaceholder = "<redacted>"

// Resolve returns the secret's value, reading the file or environment
// variable it refers to. Errors name the reference, never the value.
func (s Secret) Resolve() (string, error) {
	if err := s.Check(); err != nil {
		return "", err
	}
	switch s.Reference() {
	case "file":
		path := strings.TrimPrefix(string(s), "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading secret file: %w", err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	case "env":
		name := strings.TrimPrefix(string(s), "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return v, nil
	default:
		return string(s), nil
	}
}
