package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// fuzzRef is the backup every manifest fuzz target reads.
var fuzzRef = Ref{Source: "db", ID: "20261123T020000Z-k3fza2"}

// sha256Hex is how the manifest writes a checksum (DataInfo).
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// manifestSeeds returns manifests as Run writes them, one per source kind
// and encryption mode.
func manifestSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	encs := []Encryption{
		{Recipients: []*age.X25519Recipient{id.Recipient()}},
		{Passphrase: "correct horse", ScryptWorkFactor: 2},
		{Unencrypted: true},
	}
	var out [][]byte
	for i, kind := range []Kind{KindPostgres, KindEmbedded, KindDirectory} {
		s := seal(tb, fuzzRef, kind, []byte("plaintext of a "+string(kind)+" backup"), encs[i])
		switch kind {
		case KindPostgres:
			s.manifest.Source.Database = "app"
			s.manifest.Source.ServerVersion, s.manifest.Source.ServerVersionNum = "15.18", 150018
			s.manifest.Source.Tables = []TableSummary{{Schema: "public", Name: "users", Rows: 3, Checksum: "-1234"}}
		case KindDirectory:
			s.manifest.Source.Files = 7
			s.manifest.Source.Skipped = []string{"run/sock (socket)"}
		}
		b, err := marshalJSON(s.manifest)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// canonicalManifest makes two decodings of the same manifest comparable:
// times in UTC (the decoder picks Local for an offset that matches it) and
// empty lists as nil (omitempty drops them).
func canonicalManifest(m Manifest) Manifest {
	m.StartedAt, m.FinishedAt, m.CreatedAt = m.StartedAt.UTC(), m.FinishedAt.UTC(), m.CreatedAt.UTC()
	if len(m.Source.Skipped) == 0 {
		m.Source.Skipped = nil
	}
	if len(m.Source.Tables) == 0 {
		m.Source.Tables = nil
	}
	return m
}

// checkAccepted asserts what readers of an accepted manifest rely on.
func checkAccepted(t *testing.T, ref Ref, m *Manifest) {
	t.Helper()
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		t.Fatalf("accepted format_version %d", m.FormatVersion)
	}
	if m.Ref() != ref {
		t.Fatalf("accepted a manifest of %s as %s", m.Ref(), ref)
	}
	switch m.Source.Kind {
	case KindPostgres, KindEmbedded, KindDirectory:
	default:
		t.Fatalf("accepted source kind %q", m.Source.Kind)
	}
	want := map[string]string{EncryptionX25519: dataEncryptedName, EncryptionScrypt: dataEncryptedName, EncryptionNone: dataPlainName}[m.Encryption.Mode]
	if want == "" || m.Data.Object != want {
		t.Fatalf("accepted encryption %q with data object %q", m.Encryption.Mode, m.Data.Object)
	}
	if m.dataKey() != ref.dataKey(m.Encrypted()) {
		t.Fatalf("data key %q is not the layout's %q", m.dataKey(), ref.dataKey(m.Encrypted()))
	}
	if m.Compression.Algorithm != "zstd" {
		t.Fatalf("accepted compression %q", m.Compression.Algorithm)
	}
	// The reader compares these with hex.EncodeToString output: any other
	// spelling of a sum would make a "complete" backup that never verifies.
	if !sha256Hex.MatchString(m.Data.SHA256Stored) || !sha256Hex.MatchString(m.Data.SHA256Plaintext) {
		t.Fatalf("accepted checksums %q and %q: want 64 lower-case hex digits", m.Data.SHA256Stored, m.Data.SHA256Plaintext)
	}
	if m.Data.StoredSize < 0 || m.Data.PlaintextSize < 0 {
		t.Fatalf("accepted sizes %d and %d", m.Data.StoredSize, m.Data.PlaintextSize)
	}
}

// FuzzParseManifest feeds parseManifest what a tampered or damaged
// repository could hold as manifest.json. Any rejection must be
// ErrIntegrity (exit code 12, the backup listed as damaged); an accepted
// manifest must be a single JSON document that satisfies every invariant
// readers rely on and survive an encode/decode round trip unchanged.
func FuzzParseManifest(f *testing.F) {
	for _, b := range manifestSeeds(f) {
		f.Add(b)
		f.Add(bytes.TrimSpace(b))
		f.Add(b[:len(b)/2])                         // truncated
		f.Add(append(bytes.Clone(b), b...))         // written twice
		f.Add(append(bytes.Clone(b), "garbage"...)) // trailing junk
		f.Add(bytes.Replace(b, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1))
		f.Add(bytes.Replace(b, []byte(`"id"`), []byte(`"ID"`), 1))
		f.Add(bytes.ToUpper(b))
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(fuzzRef, b)
		if err != nil {
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("rejected with %v: want ErrIntegrity", err)
			}
			if !strings.Contains(err.Error(), fuzzRef.String()) {
				t.Fatalf("error %q does not name the backup", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted a manifest that is not one JSON document: %.300q", b)
		}
		checkAccepted(t, fuzzRef, m)

		b2, err := marshalJSON(m)
		if err != nil {
			t.Fatalf("an accepted manifest does not encode: %v", err)
		}
		m2, err := parseManifest(fuzzRef, b2)
		if err != nil {
			t.Fatalf("an accepted manifest, encoded again, is rejected: %v\n%s", err, b2)
		}
		if !reflect.DeepEqual(canonicalManifest(*m), canonicalManifest(*m2)) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", *m, *m2)
		}
		b3, err := marshalJSON(m2)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, b2, b3)
		}
	})
}

// FuzzManifestRoundTrip builds manifests from fuzzed fields, encodes them as
// Run does and decodes them again: check and parseManifest must agree, and
// an accepted manifest must come back equal.
func FuzzManifestRoundTrip(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	f.Add(uint8(1), string(KindPostgres), EncryptionX25519, dataEncryptedName, "zstd", sum, sum, int64(10), int64(20), 1.5, int64(0), "host", "age1x", "t\x1b[31m")
	f.Add(uint8(1), string(KindDirectory), EncryptionNone, dataPlainName, "zstd", sum, sum, int64(0), int64(0), 0.0, int64(1)<<40, "", "", "")
	f.Add(uint8(1), string(KindEmbedded), EncryptionScrypt, dataPlainName, "zstd", sum, sum, int64(1), int64(1), -1.0, int64(-5), "h", "", "x")
	f.Add(uint8(2), "tape", "rot13", "data", "gzip", strings.ToUpper(sum), "zz", int64(-1), int64(-1), 1e300, int64(0), "\xff", "", "")
	f.Fuzz(func(t *testing.T, version uint8, kind, mode, object, algo, storedSum, plainSum string, storedSize, plainSize int64, dur float64, created int64, host, recipient, table string) {
		m := &Manifest{
			FormatVersion: int(version),
			ID:            fuzzRef.ID,
			Tool:          Tool{Name: "repairxctl", Version: "v1"},
			Host:          host,
			Source: SourceInfo{Name: fuzzRef.Source, Kind: Kind(kind), DumpFormat: "custom",
				Tables: []TableSummary{{Schema: "public", Name: table, Rows: plainSize, Checksum: storedSum}}},
			StartedAt:       time.Unix(created%(1<<35), 0).UTC(),
			FinishedAt:      time.Unix(created%(1<<35), created%1e9).UTC(),
			CreatedAt:       time.Unix(created%(1<<35), 0).In(time.FixedZone("", int(created%(14*60))*60)),
			DurationSeconds: dur,
			Data: DataInfo{Object: object, StoredSize: storedSize, PlaintextSize: plainSize,
				SHA256Stored: storedSum, SHA256Plaintext: plainSum},
			Compression: Compression{Algorithm: algo, Level: 3, Encoder: "default"},
			Encryption:  EncryptionInfo{Mode: mode, Recipients: []string{recipient}},
		}
		checkErr := m.check(fuzzRef)
		b, err := marshalJSON(m)
		if err != nil {
			// Only what JSON cannot hold (NaN, infinities) may fail to encode.
			if checkErr == nil && !strings.Contains(err.Error(), "unsupported value") {
				t.Fatalf("a valid manifest does not encode: %v", err)
			}
			return
		}
		got, err := parseManifest(fuzzRef, b)
		switch {
		case checkErr != nil && err == nil:
			t.Fatalf("check rejects the manifest (%v) but parseManifest accepts its encoding", checkErr)
		case checkErr != nil:
			if !errors.Is(checkErr, ErrIntegrity) || !errors.Is(err, ErrIntegrity) {
				t.Fatalf("rejections are not ErrIntegrity: %v; %v", checkErr, err)
			}
			return
		case err != nil:
			// Encoding replaces invalid UTF-8, which may break what check saw;
			// anything else is a round-trip failure.
			for _, s := range []string{kind, mode, object, algo, storedSum, plainSum} {
				if !utf8Valid(s) {
					return
				}
			}
			t.Fatalf("check accepts the manifest but parseManifest rejects its encoding: %v\n%s", err, b)
		}
		checkAccepted(t, fuzzRef, got)
		if !utf8Valid(host) || !utf8Valid(recipient) || !utf8Valid(table) {
			return // encoding/json replaces invalid UTF-8: not equal by design
		}
		if !reflect.DeepEqual(canonicalManifest(*m), canonicalManifest(*got)) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", *m, *got)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
