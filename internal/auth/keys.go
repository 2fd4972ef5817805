package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/repairx/repairxctl/internal/atomicfile"
)

// KeySize is the length in bytes of every key in the key file: HMAC-SHA256
// signing keys and AES-256 data keys alike.
const KeySize = 32

// KeyFileVersion is the format_version LoadOrCreateKeys writes and reads.
const KeyFileVersion = 1

// maxKeyFileBytes bounds what LoadOrCreateKeys reads: a key file holds a
// few hundred bytes per key.
const maxKeyFileBytes = 1 << 20

// maxKeyIDLen bounds key ids, which travel in JWT headers and store rows.
const maxKeyIDLen = 64

// Key is one secret key. Its String, GoString and LogValue show the id
// only, so a key printed or logged by mistake does not leak.
type Key struct {
	// ID names the key in JWT "kid" headers and next to sealed data.
	ID string
	// Secret is KeySize random bytes.
	Secret []byte
	// Created is when the key was generated.
	Created time.Time
}

// String returns the key's id, never its secret.
func (k Key) String() string { return "key " + k.ID }

// GoString returns the key's id, never its secret.
func (k Key) GoString() string { return fmt.Sprintf("auth.Key{ID: %q, Secret: <redacted>}", k.ID) }

// LogValue logs the key's id and creation time, never its secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.Time("created", k.Created))
}

// NewKey returns a key of KeySize random bytes with a random id (16
// lowercase hex digits) created at now.
func NewKey(now time.Time) (Key, error) {
	var id [8]byte
	secret := make([]byte, KeySize)
	if _, err := rand.Read(id[:]); err != nil {
		return Key{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Key{}, err
	}
	return Key{ID: hex.EncodeToString(id[:]), Secret: secret, Created: now.UTC()}, nil
}

// KeySet is the key in use and the keys it replaced. New signatures and
// ciphertexts use Current; verification and decryption look a key up by id
// in Current and Previous, so rotating keys logs nobody out and leaves
// sealed data readable.
type KeySet struct {
	Current Key
	// Previous holds replaced keys, most recently replaced first.
	Previous []Key
}

// Lookup returns the key with this id, current or previous.
func (ks KeySet) Lookup(id string) (Key, bool) {
	if id == "" {
		return Key{}, false
	}
	if ks.Current.ID == id {
		return ks.Current, true
	}
	for _, k := range ks.Previous {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Rotate returns a KeySet whose Current is next and whose Previous starts
// with the old Current, followed by the old Previous. Pruning keys that can
// no longer have live tokens or ciphertexts is the caller's decision.
func (ks KeySet) Rotate(next Key) KeySet {
	prev := make([]Key, 0, len(ks.Previous)+1)
	prev = append(prev, ks.Current)
	prev = append(prev, ks.Previous...)
	return KeySet{Current: next, Previous: prev}
}

func (ks KeySet) validate(name string) error {
	seen := map[string]bool{}
	for i, k := range append([]Key{ks.Current}, ks.Previous...) {
		where := name + ".current"
		if i > 0 {
			where = fmt.Sprintf("%s.previous[%d]", name, i-1)
		}
		if !validKeyID(k.ID) {
			return fmt.Errorf("%s: key id must be 1 to %d letters, digits, '-' or '_'", where, maxKeyIDLen)
		}
		if seen[k.ID] {
			return fmt.Errorf("%s: duplicate key id %q", where, k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) != KeySize {
			return fmt.Errorf("%s (id %q): secret is %d bytes, want %d", where, k.ID, len(k.Secret), KeySize)
		}
	}
	return nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Keys are the secret keys of one deployment.
type Keys struct {
	// Signing holds HMAC-SHA256 keys for access tokens (JWT HS256).
	Signing KeySet
	// Data holds AES-256 keys for secrets at rest (Seal, Open).
	Data KeySet
}

// NewKeys returns a fresh Keys with one signing and one data key.
func NewKeys(now time.Time) (*Keys, error) {
	s, err := NewKey(now)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	d, err := NewKey(now)
	if err != nil {
		return nil, fmt.Errorf("generating data key: %w", err)
	}
	return &Keys{Signing: KeySet{Current: s}, Data: KeySet{Current: d}}, nil
}

// Validate reports the first problem that makes k unusable: a bad or
// duplicate key id or a secret that is not KeySize bytes.
func (k *Keys) Validate() error {
	if k == nil {
		return errors.New("no keys")
	}
	if err := k.Signing.validate("signing"); err != nil {
		return err
	}
	return k.Data.validate("data")
}

// KeySource hands out the keys in force. Tokens asks it on every call, so an
// implementation that reloads the key file or reads a shared store can swap
// keys at run time; it must return a new *Keys rather than mutate one it
// has handed out.
type KeySource interface {
	Keys() *Keys
}

// StaticKeys is a KeySource that always returns the same keys.
type StaticKeys struct{ keys *Keys }

// NewStaticKeys returns a KeySource for k, which must not be modified
// afterwards.
func NewStaticKeys(k *Keys) StaticKeys { return StaticKeys{keys: k} }

// Keys returns the keys given to NewStaticKeys.
func (s StaticKeys) Keys() *Keys { return s.keys }

// The key file, format_version 1:
//
//	{
//	  "format_version": 1,
//	  "signing": {
//	    "current":  {"id": "3f9c0a7b1d2e4f60", "secret": "<base64 of 32 bytes>", "created": "2025-01-02T03:04:05Z"},
//	    "previous": [ ...older keys, most recently replaced first... ]
//	  },
//	  "data": { ...same shape... }
//	}
//
// Rotation (`repairxctl secrets rotate`) generates a key with NewKey, makes
// it the set's current key with KeySet.Rotate (the old current key moves to
// the front of previous) and writes the file with SaveKeys. Keys leave
// previous only once no live token or sealed value can name them: for
// signing keys after the access-token lifetime, for data keys after every
// sealed value was re-sealed.
type keyFile struct {
	FormatVersion int        `json:"format_version"`
	Signing       keySetFile `json:"signing"`
	Data          keySetFile `json:"data"`
}

type keySetFile struct {
	Current  keyEntry   `json:"current"`
	Previous []keyEntry `json:"previous"`
}

type keyEntry struct {
	ID      string    `json:"id"`
	Secret  []byte    `json:"secret"` // encoding/json writes []byte as standard base64
	Created time.Time `json:"created"`
}

func toFile(ks KeySet) keySetFile {
	f := keySetFile{Current: keyEntry(ks.Current), Previous: []keyEntry{}}
	for _, k := range ks.Previous {
		f.Previous = append(f.Previous, keyEntry(k))
	}
	return f
}

func fromFile(f keySetFile) KeySet {
	ks := KeySet{Current: Key(f.Current)}
	for _, e := range f.Previous {
		ks.Previous = append(ks.Previous, Key(e))
	}
	return ks
}

// LoadOrCreateKeys reads the key file at path, or, when there is none,
// generates Keys with one signing and one data key, writes them there and
// reports created. The file is written with mode 0600 in a directory
// created with mode 0700, through a synced temporary file, so a crash
// leaves either no key file or a complete one; when several processes start
// at once, one file wins and all of them use it.
//
// It refuses a file that group or others can access (chmod 600 it), a
// directory that group or others can write (chmod 700 it), and a file it
// cannot parse or whose keys are unusable. It never overwrites an existing
// file: a corrupt key file must be restored from a backup, since the keys
// sign live sessions and decrypt stored TOTP secrets.
func LoadOrCreateKeys(path string, now time.Time) (keys *Keys, created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating key directory: %w", err)
	}
	if err := checkKeyDir(dir); err != nil {
		return nil, false, err
	}
	k, err := loadKeys(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k, err = NewKeys(now)
	if err != nil {
		return nil, false, err
	}
	won, err := writeKeyFile(path, k, false)
	if err != nil {
		return nil, false, err
	}
	if !won {
		// Another process created the file between our read and our write:
		// use its keys, or both would sign with different ones.
		k, err = loadKeys(path)
		return k, false, err
	}
	return k, true, nil
}

// SaveKeys validates k and atomically replaces the key file at path with
// it (temporary file, fsync, rename, fsync of the directory), mode 0600.
// It is the write half of key rotation.
func SaveKeys(path string, k *Keys) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("refusing to save keys: %w", err)
	}
	if err := checkKeyDir(filepath.Dir(path)); err != nil {
		return err
	}
	_, err := writeKeyFile(path, k, true)
	return err
}

func checkKeyDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // permission bits mean nothing there; ACLs govern access
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("key directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("key directory %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("key directory %s is writable by group or others (mode %04o): run chmod 700 %s",
			dir, fi.Mode().Perm(), dir)
	}
	return nil
}

func loadKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is accessible by group or others (mode %04o): run chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %s is corrupt: %d bytes is far too large; restore it from a backup", path, fi.Size())
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("key file %s is corrupt (%s): restore it from a backup; it was left untouched", path, describeJSONError(err))
	}
	if kf.FormatVersion != KeyFileVersion {
		return nil, fmt.Errorf("key file %s has format_version %d; this repairxctl reads version %d",
			path, kf.FormatVersion, KeyFileVersion)
	}
	k := &Keys{Signing: fromFile(kf.Signing), Data: fromFile(kf.Data)}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("key file %s is corrupt (%v): restore it from a backup; it was left untouched", path, err)
	}
	return k, nil
}

// describeJSONError says where decoding failed without quoting the file:
// encoding/json's messages can include a character of the input, and the
// input here is secret.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &syn) && syn.Error() == "unexpected end of JSON input":
		return "the file is empty or truncated"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.As(err, &b64):
		return fmt.Sprintf("a secret is not valid base64 (at its byte %d)", int64(b64))
	default:
		return "not a valid key file"
	}
}

// writeKeyFile writes k to a synced temporary file next to path and moves
// it into place: with replace, by rename; without, by link, which fails if
// path exists (won is then false and the file is left alone).
func writeKeyFile(path string, k *Keys, replace bool) (won bool, err error) {
	data, err := json.MarshalIndent(keyFile{
		FormatVersion: KeyFileVersion,
		Signing:       toFile(k.Signing),
		Data:          toFile(k.Data),
	}, "", "  ")
	if err != nil {
		return false, fmt.Errorf("encoding keys: %w", err)
	}
	data = append(data, '\n')

	if replace {
		err = atomicfile.Replace(path, data, 0o600)
	} else {
		err = atomicfile.Create(path, data, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("writing key file: %w", err)
	}
	return true, nil
}
