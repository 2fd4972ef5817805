package backup

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The object names inside a backup's prefix <source>/<id>/.
const (
	dataEncryptedName = "data.zst.age" // the age-encrypted zstd stream
	dataPlainName     = "data.zst"     // the zstd stream of an explicitly unencrypted backup
	manifestName      = "manifest.json"
	verifiedName      = "verified.json"
	lockName          = "lock" // <source>/lock, beside the backups
)

// idTimeLayout is the time part of an id: UTC, second precision, no
// separators that would need escaping in object keys or file names.
const idTimeLayout = "20060102T150405Z"

var (
	idPattern     = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[a-z2-7]{6}$`)
	sourcePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// idEncoding is base32 without padding in an alphabet whose ASCII order is
// its value order, so encoded numbers sort as strings.
var idEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// Ref names one backup in a repository: its source and its id. The backup's
// objects live under Ref.Prefix().
type Ref struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// String returns "source/id", the form Resolve also accepts.
func (r Ref) String() string { return r.Source + "/" + r.ID }

// Prefix returns the key prefix of the backup's objects, with its trailing slash.
func (r Ref) Prefix() string { return r.Source + "/" + r.ID + "/" }

func (r Ref) manifestKey() string { return r.Prefix() + manifestName }
func (r Ref) verifiedKey() string { return r.Prefix() + verifiedName }

// dataKey returns the key of the backup's data object.
func (r Ref) dataKey(encrypted bool) string {
	if encrypted {
		return r.Prefix() + dataEncryptedName
	}
	return r.Prefix() + dataPlainName
}

func lockKey(source string) string { return source + "/" + lockName }

// NewID returns a fresh backup id for a run started at t: its UTC time to the
// second, a dash and six base32 characters, e.g. 20261123T020000Z-k3fa2b. The
// suffix holds the millisecond (10 bits) then 20 random bits, so ids sort in
// time order as strings, to the millisecond, and two runs started at the same
// moment still get different ids.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	ms := uint32(t.Nanosecond() / int(time.Millisecond))
	v := ms<<20 | (uint32(r[0])<<16|uint32(r[1])<<8|uint32(r[2]))&0xfffff
	// 30 bits in six base32 digits: left-align them in four bytes.
	b := [4]byte{byte(v >> 22), byte(v >> 14), byte(v >> 6), byte(v << 2)}
	return t.UTC().Format(idTimeLayout) + "-" + idEncoding.EncodeToString(b[:])[:6]
}

// ParseID checks a backup id and returns the time it encodes.
func ParseID(id string) (time.Time, error) {
	if !idPattern.MatchString(id) {
		return time.Time{}, fmt.Errorf("%q is not a backup id (expected e.g. 20261123T020000Z-k3fa2b)", id)
	}
	t, err := time.Parse(idTimeLayout, id[:len(idTimeLayout)])
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a backup id: %w", id, err)
	}
	b, err := idEncoding.DecodeString(id[len(id)-6:] + "22") // zero-padded to 40 bits
	if err == nil {
		if ms := int(uint32(b[0])<<2 | uint32(b[1])>>6); ms < 1000 {
			t = t.Add(time.Duration(ms) * time.Millisecond)
		}
	}
	return t, nil
}

// ValidateSourceName checks that name can be a source's name: 1 to 100 of
// letters, digits, '.', '_' and '-', starting with a letter or digit. The name
// is the first segment of every key of the source's backups.
func ValidateSourceName(name string) error {
	if !sourcePattern.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid source name %q: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// splitKey splits an object key <source>/<id>/<name> of the layout. ok is
// false for keys that are not a backup's (the lock, stray objects).
func splitKey(key string) (ref Ref, name string, ok bool) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 || !sourcePattern.MatchString(parts[0]) || parts[2] == "" {
		return Ref{}, "", false
	}
	// ParseID, not the pattern alone: an id naming no time (month 17) was
	// never written by NewID; listed, it would have no time yet sort by its
	// id among real backups (as latest, say).
	if _, err := ParseID(parts[1]); err != nil {
		return Ref{}, "", false
	}
	return Ref{Source: parts[0], ID: parts[1]}, parts[2], true
}
