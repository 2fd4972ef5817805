package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// memRepo is an in-memory repo.Repository for fuzz targets: a file
// repository fsyncs every Put, which would cost more than the code under
// test. It keeps the Repository contract the code relies on (ErrNotFound,
// sorted List, whole objects).
type memRepo struct {
	mu   sync.Mutex
	objs map[string][]byte
	mod  map[string]time.Time
}

func newMemRepo() *memRepo {
	return &memRepo{objs: map[string][]byte{}, mod: map[string]time.Time{}}
}

func (m *memRepo) set(key string, b []byte, mod time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = slices.Clone(b)
	m.mod[key] = mod
}

func (m *memRepo) Put(_ context.Context, key string, r io.Reader, _ repo.PutOptions) (int64, error) {
	if err := repo.ValidKey(key); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	m.set(key, b, time.Now())
	return int64(len(b)), nil
}

func (m *memRepo) Get(_ context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, repo.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memRepo) Stat(_ context.Context, key string) (repo.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return repo.Object{}, fmt.Errorf("stat %s: %w", key, repo.ErrNotFound)
	}
	return repo.Object{Key: key, Size: int64(len(b)), Modified: m.mod[key]}, nil
}

func (m *memRepo) List(_ context.Context, prefix string) ([]repo.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []repo.Object
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, repo.Object{Key: k, Size: int64(len(b)), Modified: m.mod[k]})
		}
	}
	slices.SortFunc(out, func(a, b repo.Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memRepo) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	delete(m.mod, key)
	return nil
}

func (m *memRepo) CreateExclusive(_ context.Context, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return fmt.Errorf("create %s: %w", key, repo.ErrExists)
	}
	m.objs[key] = slices.Clone(body)
	m.mod[key] = time.Now()
	return nil
}

func (m *memRepo) AbortIncomplete(context.Context, string, time.Duration) (int, error) {
	return 0, nil
}

func (m *memRepo) URL() string { return "mem://fuzz" }

// sealed is one data object written by encode, and the manifest that
// describes it.
type sealed struct {
	object   []byte
	plain    []byte
	manifest *Manifest
}

// seal encodes plain as Run does (zstd, then age when recipients are given)
// and builds the manifest Run would write for it, so that fuzz targets start
// from real objects and manifests rather than hand-written ones.
func seal(tb testing.TB, ref Ref, kind Kind, plain []byte, enc Encryption) sealed {
	tb.Helper()
	mode, err := enc.mode()
	if err != nil {
		tb.Fatal(err)
	}
	recipients, err := enc.ageRecipients()
	if err != nil {
		tb.Fatal(err)
	}
	var obj bytes.Buffer
	out, err := encode(&obj, bytes.NewReader(plain), recipients, DefaultCompressionLevel, 1, nil)
	if err != nil {
		tb.Fatal(err)
	}
	started, err := ParseID(ref.ID)
	if err != nil {
		tb.Fatal(err)
	}
	format := map[Kind]string{KindPostgres: FormatCustom, KindEmbedded: "sqlite", KindDirectory: "tar"}[kind]
	m := &Manifest{
		FormatVersion:   FormatVersion,
		ID:              ref.ID,
		Tool:            Tool{Name: "repairxctl", Version: "v1.2.3", Commit: "abc123"},
		Host:            "fuzz-host",
		Source:          SourceInfo{Name: ref.Source, Kind: kind, DumpFormat: format},
		StartedAt:       started.UTC(),
		FinishedAt:      started.Add(1500 * time.Millisecond).UTC(),
		CreatedAt:       started.Add(2 * time.Second).UTC(),
		DurationSeconds: 1.5,
		Data: DataInfo{
			Object:          ref.dataKey(mode != EncryptionNone)[len(ref.Prefix()):],
			PlaintextSize:   out.plainSize,
			CompressedSize:  out.compressedSize,
			StoredSize:      out.storedSize,
			SHA256Stored:    out.storedSum,
			SHA256Plaintext: out.plainSum,
		},
		Compression: Compression{Algorithm: "zstd", Level: DefaultCompressionLevel, Encoder: "default"},
		Encryption:  EncryptionInfo{Mode: mode, Recipients: enc.recipientStrings()},
	}
	if err := m.check(ref); err != nil {
		tb.Fatalf("seal built an invalid manifest: %v", err)
	}
	return sealed{object: obj.Bytes(), plain: plain, manifest: m}
}

// store puts a sealed backup into r: its data object and, when withManifest,
// its manifest.
func (s sealed) store(tb testing.TB, r *memRepo, withManifest bool) {
	tb.Helper()
	t, _ := ParseID(s.manifest.ID)
	r.set(s.manifest.dataKey(), s.object, t)
	if withManifest {
		body, err := marshalJSON(s.manifest)
		if err != nil {
			tb.Fatal(err)
		}
		r.set(s.manifest.Ref().manifestKey(), body, t)
	}
}
