package backup

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// FormatVersion is the manifest format this package writes and reads. A
// manifest with a higher version was written by a newer repairxctl; it is
// reported as damaged (unreadable) rather than guessed at.
const FormatVersion = 1

// The encryption modes of a manifest.
const (
	EncryptionX25519 = "age-x25519" // age, to X25519 recipients (age1...)
	EncryptionScrypt = "age-scrypt" // age, to a passphrase
	EncryptionNone   = "none"       // not encrypted: only when asked for explicitly
)

// Manifest describes one complete backup. It is the last object a run
// writes, so a backup without one is incomplete. Manifests are written once
// and never rewritten; verification is recorded beside them (Verification).
// Field names are snake_case in JSON and stable within a FormatVersion.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	ID            string `json:"id"`
	Tool          Tool   `json:"tool"`
	// Host is the host name of the machine that ran the backup.
	Host   string     `json:"host"`
	Source SourceInfo `json:"source"`

	// StartedAt is when the run began (before the lock), FinishedAt when
	// the data object was complete, CreatedAt when the manifest was made.
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	CreatedAt       time.Time `json:"created_at"`
	DurationSeconds float64   `json:"duration_seconds"`

	Data        DataInfo       `json:"data"`
	Compression Compression    `json:"compression"`
	Encryption  EncryptionInfo `json:"encryption"`
}

// Tool names the program that wrote a backup.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// SourceInfo describes what was backed up and how it was read.
type SourceInfo struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// DumpFormat is the plaintext's format: "custom" or "directory"
	// (pg_dump's, the latter as a tar of the dump directory) for postgres,
	// "sqlite" (a database file) for embedded, "tar" for directory.
	DumpFormat string `json:"dump_format"`
	// DumpTool is the dump program's --version line (postgres).
	DumpTool string `json:"dump_tool,omitempty"`
	// ServerVersion is the PostgreSQL server's version (e.g. "15.18"), or
	// the SQLite library's for embedded.
	ServerVersion string `json:"server_version,omitempty"`
	// ServerVersionNum is PostgreSQL's server_version_num (e.g. 150018).
	ServerVersionNum int `json:"server_version_num,omitempty"`
	// Database is the PostgreSQL database's name (never its URL).
	Database string `json:"database,omitempty"`
	// FileName is the embedded store's file name, used when restoring into a
	// directory.
	FileName string `json:"file_name,omitempty"`
	// Files counts the entries of a tar (directory, postgres directory format).
	Files int64 `json:"files,omitempty"`
	// Skipped lists entries a directory backup left out (sockets, devices,
	// FIFOs), at most maxSkippedListed of them.
	Skipped []string `json:"skipped,omitempty"`
	// Tables holds the row count and checksum of every table, read in the
	// dump's snapshot (postgres, unless disabled); restore tests compare a
	// restored database with them.
	Tables []TableSummary `json:"tables,omitempty"`
}

// TableSummary is one table's content in a PostgreSQL backup. Checksum is the
// sum of the first 64 bits of md5(row::text) over the rows, as a decimal: order
// independent and computed in one pass whatever the table's size.
type TableSummary struct {
	Schema   string `json:"schema"`
	Name     string `json:"name"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// DataInfo describes the data object. The SHA-256 sums are lower-case hex.
type DataInfo struct {
	// Object is the data object's name inside the backup's prefix:
	// data.zst.age, or data.zst when unencrypted.
	Object          string `json:"object"`
	PlaintextSize   int64  `json:"plaintext_size"`
	CompressedSize  int64  `json:"compressed_size"`
	StoredSize      int64  `json:"stored_size"`
	SHA256Stored    string `json:"sha256_stored"`
	SHA256Plaintext string `json:"sha256_plaintext"`
}

// Compression describes how the plaintext was compressed.
type Compression struct {
	Algorithm string `json:"algorithm"` // "zstd"
	Level     int    `json:"level"`     // the zstd level asked for
	// Encoder is the klauspost/compress encoder level the level maps to
	// (fastest, default, better, best).
	Encoder string `json:"encoder"`
}

// EncryptionInfo says who can read a backup.
type EncryptionInfo struct {
	Mode string `json:"mode"` // EncryptionX25519, EncryptionScrypt or EncryptionNone
	// Recipients are the age1... public keys of an X25519 backup; [] otherwise.
	Recipients []string `json:"recipients"`
}

// Encrypted reports whether the backup is encrypted.
func (m *Manifest) Encrypted() bool { return m.Encryption.Mode != EncryptionNone }

// Ref returns the backup's reference.
func (m *Manifest) Ref() Ref { return Ref{Source: m.Source.Name, ID: m.ID} }

// Duration returns how long the run took, from its start to its data
// object's completion.
func (m *Manifest) Duration() time.Duration {
	return time.Duration(m.DurationSeconds * float64(time.Second))
}

// Verification is the content of a backup's verified.json, written by a
// successful Verify. It is a separate object so that manifests stay
// write-once: recording a verification can never damage the manifest a
// restore depends on, and it works under object-lock (WORM) policies.
type Verification struct {
	FormatVersion int       `json:"format_version"`
	VerifiedAt    time.Time `json:"verified_at"`
	Host          string    `json:"host"`
	ToolVersion   string    `json:"tool_version"`
	// SHA256Stored is the checksum verified, tying the marker to the data.
	SHA256Stored string `json:"sha256_stored"`
	// RestoreTest is true when the verification included a restore test.
	RestoreTest bool `json:"restore_test"`
}

// marshalJSON encodes v as indented JSON with a final newline.
func marshalJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// parseManifest decodes and checks the manifest of ref. Any problem is
// ErrIntegrity: a manifest that cannot be trusted describes no backup.
func parseManifest(ref Ref, b []byte) (*Manifest, error) {
	var m Manifest
	// Unmarshal, not a Decoder: anything after the object (a second
	// manifest, junk) makes the whole file invalid.
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, integrityf(ref, "manifest.json is not valid JSON: %v", err)
	}
	if err := m.check(ref); err != nil {
		return nil, err
	}
	return &m, nil
}

// check validates what readers depend on.
func (m *Manifest) check(ref Ref) error {
	switch {
	case m.FormatVersion == 0:
		return integrityf(ref, "manifest.json has no format_version")
	case m.FormatVersion > FormatVersion:
		return integrityf(ref, "manifest format_version %d is newer than this repairxctl reads (%d): upgrade repairxctl", m.FormatVersion, FormatVersion)
	case m.ID != ref.ID:
		return integrityf(ref, "manifest.json names id %q", m.ID)
	case m.Source.Name != ref.Source:
		return integrityf(ref, "manifest.json names source %q", m.Source.Name)
	}
	switch m.Source.Kind {
	case KindPostgres, KindEmbedded, KindDirectory:
	default:
		return integrityf(ref, "manifest.json has an unknown source kind %q", m.Source.Kind)
	}
	var wantObject string
	switch m.Encryption.Mode {
	case EncryptionX25519, EncryptionScrypt:
		wantObject = dataEncryptedName
	case EncryptionNone:
		wantObject = dataPlainName
	default:
		return integrityf(ref, "manifest.json has an unknown encryption mode %q", m.Encryption.Mode)
	}
	if m.Data.Object != wantObject {
		return integrityf(ref, "manifest.json names data object %q, expected %q for encryption %s", m.Data.Object, wantObject, m.Encryption.Mode)
	}
	if m.Compression.Algorithm != "zstd" {
		return integrityf(ref, "manifest.json has an unknown compression %q", m.Compression.Algorithm)
	}
	for name, sum := range map[string]string{"sha256_stored": m.Data.SHA256Stored, "sha256_plaintext": m.Data.SHA256Plaintext} {
		// Lower-case only: the reader compares the sums as strings, so any
		// other spelling would list a backup as complete that never verifies.
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 || hex.EncodeToString(b) != sum {
			return integrityf(ref, "manifest.json has an invalid %s %q", name, sum)
		}
	}
	if m.Data.StoredSize < 0 || m.Data.PlaintextSize < 0 {
		return integrityf(ref, "manifest.json has negative sizes")
	}
	return nil
}

// dataKey returns the key of the data object the manifest describes.
func (m *Manifest) dataKey() string { return m.Ref().Prefix() + m.Data.Object }

func (m *Manifest) String() string {
	return fmt.Sprintf("backup %s (%s, %s)", m.Ref(), m.Source.Kind, m.Encryption.Mode)
}
