package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
)

// GenerateIdentity creates an age X25519 key pair. identity is the secret
// (AGE-SECRET-KEY-1...), to keep away from the host that writes backups;
// recipient is its public key (age1...), which Run encrypts to.
func GenerateIdentity() (identity, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", fmt.Errorf("generating an age identity: %w", err)
	}
	return id.String(), id.Recipient().String(), nil
}

// FormatIdentityFile returns an identity file in age-keygen's format: two
// comment lines (creation time, public key) and the secret key. Write it
// with mode 0600; ParseIdentities and the age command line both read it.
func FormatIdentityFile(identity, recipient string, created time.Time) []byte {
	return fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n",
		created.UTC().Format(time.RFC3339), recipient, identity)
}

// ParseRecipient parses one X25519 recipient (age1...).
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(strings.ToUpper(s), "AGE-SECRET-KEY-") {
		// Never echo it: a secret given where a public key belongs, alone or
		// inside more text (a whole identity file, a BOM, a "key=" prefix).
		return nil, errors.New("invalid age recipient: this is a secret identity (AGE-SECRET-KEY-...), give its public key (age1...)")
	}
	if strings.HasPrefix(s, "age1pq1") {
		return nil, errors.New("invalid age recipient: post-quantum (age1pq1...) recipients are not supported yet; use an X25519 recipient (age1...)")
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("invalid age recipient %q: expected an X25519 public key (age1...)", s)
	}
	return r, nil
}

// ParseRecipients parses recipients from text: one per line or separated by
// commas; blank lines and lines starting with '#' are skipped (a recipients
// file, or the public key comment of an identity file, both work).
func ParseRecipients(r io.Reader) ([]*age.X25519Recipient, error) {
	var out []*age.X25519Recipient
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for f := range strings.SplitSeq(line, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			rec, err := ParseRecipient(f)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			out = append(out, rec)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading recipients: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("no age recipients found")
	}
	return out, nil
}

// ParseIdentities parses an age identity file (as written by
// FormatIdentityFile or age-keygen): secret keys one per line, '#' comments.
// Error messages never contain key material.
func ParseIdentities(r io.Reader) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, fmt.Errorf("reading age identities: %w", err)
	}
	return ids, nil
}

// PassphraseIdentity returns the identity that decrypts passphrase
// (age-scrypt) backups.
func PassphraseIdentity(passphrase string) (age.Identity, error) {
	if passphrase == "" {
		return nil, errors.New("empty passphrase")
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(MaxScryptWorkFactor)
	return id, nil
}

// MaxScryptWorkFactor is the largest scrypt work factor (log2 of its cost)
// that Run writes and a passphrase identity accepts: 2^20 needs 1 GiB and a
// few seconds. age on its own accepts 22 (4 GiB), which a forged header
// could then demand of the host that verifies or restores.
const MaxScryptWorkFactor = 20

// Encryption says how Run encrypts a backup: to X25519 Recipients, or with a
// Passphrase (age scrypt), or, only when Unencrypted is set, not at all.
// Exactly one of the three must be chosen.
type Encryption struct {
	Recipients []*age.X25519Recipient
	Passphrase string
	// ScryptWorkFactor is log2 of the scrypt cost for Passphrase; 0 means
	// age's default (18: about a second and 256 MiB, once per run).
	ScryptWorkFactor int
	// Unencrypted must be set explicitly to write a backup in the clear.
	Unencrypted bool
}

// mode validates e and returns its manifest mode.
func (e Encryption) mode() (string, error) {
	chosen := 0
	if len(e.Recipients) > 0 {
		chosen++
	}
	if e.Passphrase != "" {
		chosen++
	}
	if e.Unencrypted {
		chosen++
	}
	switch {
	case chosen == 0:
		return "", errors.New("no encryption configured: give age recipients (or a passphrase); " +
			"a backup is written unencrypted only when that is set explicitly")
	case chosen > 1:
		return "", errors.New("choose one of age recipients, a passphrase or unencrypted")
	case len(e.Recipients) > 0:
		for i, r := range e.Recipients {
			if r == nil {
				return "", fmt.Errorf("recipient %d is nil", i)
			}
		}
		return EncryptionX25519, nil
	case e.Passphrase != "":
		if e.ScryptWorkFactor < 0 || e.ScryptWorkFactor > MaxScryptWorkFactor {
			return "", fmt.Errorf("scrypt work factor %d: want 1 to %d (0: age's default, 18)", e.ScryptWorkFactor, MaxScryptWorkFactor)
		}
		return EncryptionScrypt, nil
	default:
		return EncryptionNone, nil
	}
}

// ageRecipients returns the age recipients of e, nil when unencrypted.
func (e Encryption) ageRecipients() ([]age.Recipient, error) {
	switch {
	case len(e.Recipients) > 0:
		out := make([]age.Recipient, len(e.Recipients))
		for i, r := range e.Recipients {
			out[i] = r
		}
		return out, nil
	case e.Passphrase != "":
		r, err := age.NewScryptRecipient(e.Passphrase)
		if err != nil {
			return nil, err
		}
		if e.ScryptWorkFactor > 0 {
			r.SetWorkFactor(e.ScryptWorkFactor)
		}
		return []age.Recipient{r}, nil
	}
	return nil, nil
}

// recipientStrings returns the public strings of e's recipients ([] for none).
func (e Encryption) recipientStrings() []string {
	out := make([]string, 0, len(e.Recipients))
	for _, r := range e.Recipients {
		out = append(out, r.String())
	}
	return out
}
