package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// s3Repo returns an empty repository in a fresh bucket of the harness's S3
// server, under a prefix.
func s3Repo(t *testing.T) repo.Repository {
	t.Helper()
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	r, err := repo.Open(t.Context(), "s3://"+bucket+"/backups", repo.Options{
		Region:          srv.Region(),
		Endpoint:        srv.Endpoint(),
		PathStyle:       true,
		AccessKeyID:     srv.AccessKey(),
		SecretAccessKey: srv.SecretKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// keyPair is an age identity and its recipient.
type keyPair struct {
	identity  age.Identity
	recipient *age.X25519Recipient
}

func newKeyPair(t *testing.T) keyPair {
	t.Helper()
	id, rec, err := backup.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := backup.ParseIdentities(strings.NewReader(id))
	if err != nil {
		t.Fatal(err)
	}
	r, err := backup.ParseRecipient(rec)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{identity: ids[0], recipient: r}
}

func (k keyPair) encryption() backup.Encryption {
	return backup.Encryption{Recipients: []*age.X25519Recipient{k.recipient}}
}

func (k keyPair) ids() []age.Identity { return []age.Identity{k.identity} }

// recorder is a Reporter that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	warnings []string
	last     map[backup.Phase]int64
	onBytes  func(int64)
}

func (r *recorder) Progress(phase backup.Phase, n, _ int64) {
	r.mu.Lock()
	if r.last == nil {
		r.last = map[backup.Phase]int64{}
	}
	r.last[phase] = n
	f := r.onBytes
	r.mu.Unlock()
	if f != nil {
		f(n)
	}
}

func (r *recorder) Warning(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, msg)
}

func (r *recorder) progress(p backup.Phase) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[p]
}

// keys lists a repository's object keys.
func keys(t *testing.T, r repo.Repository, prefix string) []string {
	t.Helper()
	objs, err := r.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// getObject reads an object whole.
func getObject(t *testing.T, r repo.Repository, key string) []byte {
	t.Helper()
	rc, err := r.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t *testing.T, r repo.Repository, key string, b []byte) {
	t.Helper()
	if _, err := r.Put(context.Background(), key, bytes.NewReader(b), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// mustErr fails unless err matches target.
func mustErr(t *testing.T, err, target error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("got error %q, want %v", err, target)
	}
}

// dataKey returns the data object key of a backup.
func dataKey(m *backup.Manifest) string { return m.Ref().Prefix() + m.Data.Object }
