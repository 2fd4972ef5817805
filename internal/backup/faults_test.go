package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/testenv"
)

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

func randomSuffix() string { return rand.Text()[:8] }

// memSource is a source whose plaintext is fixed; open, when set, runs
// first (to block or fail).
type memSource struct {
	name string
	data []byte
	open func(ctx context.Context) error
}

func (s *memSource) Name() string      { return s.name }
func (s *memSource) Kind() backup.Kind { return backup.KindDirectory }
func (s *memSource) Open(ctx context.Context) (backup.Dump, error) {
	if s.open != nil {
		if err := s.open(ctx); err != nil {
			return nil, err
		}
	}
	return &memDump{Reader: bytes.NewReader(s.data), name: s.name}, nil
}

type memDump struct {
	*bytes.Reader
	name string
}

func (d *memDump) Close() error { return nil }
func (d *memDump) Info() backup.SourceInfo {
	return backup.SourceInfo{Name: d.name, Kind: backup.KindDirectory, DumpFormat: "tar"}
}

// smallBackup backs up a small directory and returns the manifest.
func smallBackup(t *testing.T, r repo.Repository, enc backup.Encryption) *backup.Manifest {
	t.Helper()
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("all work and no play makes jack a dull boy\n"), 50000)
	payload = append(payload, []byte(rand.Text())...)
	if err := os.WriteFile(filepath.Join(dir, "f"), payload, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := backup.NewDirectorySource("small", dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: enc})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest
}

func TestNoEncryptionRefused(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	s := &memSource{name: "x", data: []byte("x")}
	_, err := backup.Run(t.Context(), r, s, backup.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "unencrypted only when") {
		t.Fatalf("run without encryption: %v", err)
	}
	if k := keys(t, r, ""); len(k) != 0 {
		t.Errorf("objects written: %q", k)
	}
}

func TestWrongIdentity(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	k, other := newKeyPair(t), newKeyPair(t)
	m := smallBackup(t, r, k.encryption())

	_, err := backup.Verify(t.Context(), r, m.Ref(), other.ids(), backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIntegrity)
	if !strings.Contains(err.Error(), "wrong identity") || !strings.Contains(err.Error(), k.recipient.String()) {
		t.Errorf("error does not say the identity is wrong and whom the backup is for: %v", err)
	}
	target := filepath.Join(t.TempDir(), "out")
	_, err = backup.Restore(t.Context(), r, m.Ref(), other.ids(), backup.Target{Dir: target}, backup.RestoreOptions{})
	mustErr(t, err, backup.ErrIntegrity)
	if _, serr := os.Stat(target); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("a failed restore created the target: %v", serr)
	}
	_, err = backup.Verify(t.Context(), r, m.Ref(), nil, backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIdentityRequired)
	if _, err := backup.Verify(t.Context(), r, m.Ref(), append(other.ids(), k.identity), backup.VerifyOptions{}); err != nil {
		t.Errorf("verify with the right identity among others: %v", err)
	}
}

func TestPassphrase(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	m := smallBackup(t, r, backup.Encryption{Passphrase: "correct horse", ScryptWorkFactor: 10})
	if m.Encryption.Mode != backup.EncryptionScrypt || len(m.Encryption.Recipients) != 0 {
		t.Errorf("encryption = %+v", m.Encryption)
	}
	right, _ := backup.PassphraseIdentity("correct horse")
	wrong, _ := backup.PassphraseIdentity("battery staple")
	if _, err := backup.Verify(t.Context(), r, m.Ref(), []age.Identity{right}, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := backup.Verify(t.Context(), r, m.Ref(), []age.Identity{wrong}, backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIntegrity)
	k := newKeyPair(t)
	_, err = backup.Verify(t.Context(), r, m.Ref(), k.ids(), backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIntegrity)
}

// TestScryptWorkFactorBounded: a passphrase backup whose header demands
// more scrypt work than Run ever writes (a forged or damaged header) fails
// at once as damaged, instead of costing gigabytes first; and Run refuses to
// write one it could not read back.
func TestScryptWorkFactorBounded(t *testing.T) {
	t.Parallel()
	r, dir := repotest.OpenFile(t)
	m := smallBackup(t, r, backup.Encryption{Passphrase: "correct horse", ScryptWorkFactor: 10})
	// The stanza is "-> scrypt SALT 10": the same length with 21.
	damage(t, dir, m, func(b []byte) []byte {
		re := regexp.MustCompile(`(?m)^(-> scrypt \S+) 10$`)
		if !re.Match(b) {
			t.Fatalf("no scrypt stanza with work factor 10 in the header:\n%.200s", b)
		}
		return re.ReplaceAll(b, []byte("$1 21"))
	})
	id, _ := backup.PassphraseIdentity("correct horse")
	_, err := backup.Verify(t.Context(), r, m.Ref(), []age.Identity{id}, backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIntegrity)
	if !strings.Contains(err.Error(), "work factor") {
		t.Errorf("verify = %v, want the work factor named", err)
	}

	s := &memSource{name: "x", data: []byte("x")}
	_, err = backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{
		Passphrase: "correct horse", ScryptWorkFactor: backup.MaxScryptWorkFactor + 1}})
	if err == nil || !strings.Contains(err.Error(), "scrypt work factor") {
		t.Errorf("run with work factor %d = %v, want it refused", backup.MaxScryptWorkFactor+1, err)
	}
}

// damage modifies the data object of m in the file repository at dir.
func damage(t *testing.T, dir string, m *backup.Manifest, f func(b []byte) []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(dataKey(m)))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rewriteManifest stores a changed manifest.
func rewriteManifest(t *testing.T, r repo.Repository, m *backup.Manifest, f func(m *backup.Manifest)) {
	t.Helper()
	c := *m
	f(&c)
	b, err := jsonMarshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, r, m.Ref().Prefix()+"manifest.json", b)
}

func TestDamagedObjects(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t)
	cases := []struct {
		name      string
		enc       backup.Encryption
		damage    func([]byte) []byte
		fixSize   bool // rewrite the manifest's stored size to match
		want      string
		listState backup.State
	}{
		{"truncated", k.encryption(), func(b []byte) []byte { return b[:len(b)/2] }, false, "truncated", backup.StateDamaged},
		{"truncated-with-matching-size", k.encryption(), func(b []byte) []byte { return b[:len(b)-100] }, true, "", backup.StateComplete},
		{"truncated-at-chunk-boundary", k.encryption(), func(b []byte) []byte { return b[:len(b)-len(b)%1000] }, true, "", backup.StateComplete},
		{"flipped-byte", k.encryption(), func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, false, "authenticate", backup.StateComplete},
		{"flipped-header-byte", k.encryption(), func(b []byte) []byte { b[40] ^= 0x01; return b }, false, "", backup.StateComplete},
		{"flipped-last-byte", k.encryption(), func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }, false, "", backup.StateComplete},
		{"appended", k.encryption(), func(b []byte) []byte { return append(b, 0) }, true, "", backup.StateComplete},
		{"unencrypted-flipped-byte", backup.Encryption{Unencrypted: true}, func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, false, "", backup.StateComplete},
		{"unencrypted-truncated", backup.Encryption{Unencrypted: true}, func(b []byte) []byte { return b[:len(b)-10] }, true, "", backup.StateComplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, dir := repotest.OpenFile(t)
			m := smallBackup(t, r, tc.enc)
			damage(t, dir, m, tc.damage)
			if tc.fixSize {
				fi, err := r.Stat(t.Context(), dataKey(m))
				if err != nil {
					t.Fatal(err)
				}
				rewriteManifest(t, r, m, func(c *backup.Manifest) { c.Data.StoredSize = fi.Size })
			}
			entries, err := backup.List(t.Context(), r, "small")
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].State != tc.listState {
				t.Errorf("list = %+v, want state %s", entries, tc.listState)
			}
			_, err = backup.Verify(t.Context(), r, m.Ref(), k.ids(), backup.VerifyOptions{})
			mustErr(t, err, backup.ErrIntegrity)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			for _, target := range []backup.Target{{Dir: filepath.Join(t.TempDir(), "d")}, {File: filepath.Join(t.TempDir(), "f")}} {
				_, err = backup.Restore(t.Context(), r, m.Ref(), k.ids(), target, backup.RestoreOptions{})
				mustErr(t, err, backup.ErrIntegrity)
				if _, serr := os.Stat(target.Dir + target.File); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a failed restore left %s%s: %v", target.Dir, target.File, serr)
				}
				leftovers, _ := os.ReadDir(filepath.Dir(target.Dir + target.File))
				if len(leftovers) != 0 {
					t.Errorf("a failed restore left staging files: %v", leftovers)
				}
			}
			// A forced restore over a non-empty directory verifies first and
			// leaves the directory untouched.
			full := t.TempDir()
			os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o600)
			_, err = backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: full, Force: true}, backup.RestoreOptions{})
			mustErr(t, err, backup.ErrIntegrity)
			if !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("error does not say the target is unchanged: %v", err)
			}
			if ents, _ := os.ReadDir(full); len(ents) != 1 {
				t.Errorf("a failed forced restore changed the directory: %v", ents)
			}
		})
	}
}

func TestDamagedManifest(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	m := smallBackup(t, r, k.encryption())
	good := getObject(t, r, m.Ref().Prefix()+"manifest.json")
	for name, body := range map[string][]byte{
		"not-json":       []byte("{"),
		"future-version": bytes.Replace(good, []byte(`"format_version": 1`), []byte(`"format_version": 9`), 1),
		"wrong-id":       bytes.Replace(good, []byte(m.ID), []byte("20000101T000000Z-aaaaaa"), 1),
		"bad-checksum":   bytes.Replace(good, []byte(m.Data.SHA256Stored), []byte("abc"), 1),
		"other-checksum": bytes.Replace(good, []byte(m.Data.SHA256Stored), []byte(strings.Repeat("0", 64)), 1),
	} {
		putObject(t, r, m.Ref().Prefix()+"manifest.json", body)
		_, err := backup.Verify(t.Context(), r, m.Ref(), k.ids(), backup.VerifyOptions{})
		mustErr(t, err, backup.ErrIntegrity)
		_, err = backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: filepath.Join(t.TempDir(), "d")}, backup.RestoreOptions{})
		mustErr(t, err, backup.ErrIntegrity)
		if name != "other-checksum" {
			_, err = backup.Resolve(t.Context(), r, "small", m.ID)
			mustErr(t, err, backup.ErrIntegrity)
			if _, err := backup.Resolve(t.Context(), r, "small", "latest"); !errors.Is(err, backup.ErrNotFound) {
				t.Errorf("%s: latest = %v, want ErrNotFound", name, err)
			}
		}
	}
}

func TestMissingManifest(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	old := smallBackup(t, r, k.encryption())
	m := smallBackup(t, r, k.encryption())
	if err := r.Delete(t.Context(), m.Ref().Prefix()+"manifest.json"); err != nil {
		t.Fatal(err)
	}
	entries, err := backup.List(t.Context(), r, "small")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].ID != old.ID || !entries[0].Complete() || entries[1].State != backup.StateIncomplete || entries[1].Complete() {
		t.Fatalf("list = %+v", entries)
	}
	latest, err := backup.Resolve(t.Context(), r, "small", "latest")
	if err != nil || latest.ID != old.ID {
		t.Errorf("latest = %v, %v; want the older complete backup", latest.Ref, err)
	}
	_, err = backup.Resolve(t.Context(), r, "small", m.ID)
	mustErr(t, err, backup.ErrIncomplete)
	mustErr(t, err, backup.ErrNotFound)
	_, err = backup.Restore(t.Context(), r, m.Ref(), k.ids(), backup.Target{Dir: filepath.Join(t.TempDir(), "d")}, backup.RestoreOptions{})
	mustErr(t, err, backup.ErrIncomplete)
	_, err = backup.Verify(t.Context(), r, m.Ref(), k.ids(), backup.VerifyOptions{})
	mustErr(t, err, backup.ErrIncomplete)
	_, err = backup.Resolve(t.Context(), r, "small", "20000101T000000Z-aaaaaa")
	mustErr(t, err, backup.ErrNotFound)
}

// fakePgDump writes a pg_dump script into a new directory and returns it,
// for PostgresOptions.BinDir. --version answers like pg_dump; anything
// else runs body.
func fakePgDump(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 15.99'; exit 0; fi\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noObjects fails if a failed run left anything in the repository.
func noObjects(t *testing.T, r repo.Repository) {
	t.Helper()
	if k := keys(t, r, ""); len(k) != 0 {
		t.Errorf("the failed run left objects: %q", k)
	}
}

func TestDumpFailsAfterOutput(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	for _, summary := range []bool{true, false} {
		t.Run(fmt.Sprintf("summary=%v", summary), func(t *testing.T) {
			t.Parallel()
			r, _ := repotest.OpenFile(t)
			// A complete-looking stream, then a failure.
			fake := fakePgDump(t, `head -c 5000000 /dev/urandom; echo "pg_dump: error: Dumping the contents of table \"t\" failed: simulated" >&2; exit 1`)
			s, _ := backup.NewPostgresSource("db", pg.NewDatabase(t), backup.PostgresOptions{BinDir: fake, NoTableSummary: !summary})
			_, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
			if err == nil || !strings.Contains(err.Error(), "simulated") || !strings.Contains(err.Error(), "exit status 1") {
				t.Fatalf("run = %v, want pg_dump's failure with its stderr", err)
			}
			noObjects(t, r)
		})
	}
}

func TestDumpKilled(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	r, _ := repotest.OpenFile(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	fake := fakePgDump(t, `echo $$ > `+pidFile+`; exec cat /dev/urandom`)
	s, _ := backup.NewPostgresSource("db", pg.NewDatabase(t), backup.PostgresOptions{BinDir: fake})
	var once sync.Once
	rec := &recorder{onBytes: func(n int64) {
		if n > 4<<20 {
			once.Do(func() {
				b, err := os.ReadFile(pidFile)
				if err != nil {
					t.Error(err)
					return
				}
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				syscall.Kill(pid, syscall.SIGKILL)
			})
		}
	}}
	_, err := backup.Run(t.Context(), r, s, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}, Reporter: rec})
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("run = %v, want pg_dump killed", err)
	}
	noObjects(t, r)
}

func TestCancelMidRun(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	r, _ := repotest.OpenFile(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	fake := fakePgDump(t, `echo $$ > `+pidFile+`; exec cat /dev/urandom`)
	s, _ := backup.NewPostgresSource("db", pg.NewDatabase(t), backup.PostgresOptions{BinDir: fake})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &recorder{onBytes: func(n int64) {
		if n > 4<<20 {
			cancel()
		}
	}}
	k := newKeyPair(t)
	_, err := backup.Run(ctx, r, s, backup.RunOptions{Encryption: k.encryption(), Reporter: rec})
	mustErr(t, err, context.Canceled)
	noObjects(t, r)
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatal("the fake pg_dump never ran")
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("pg_dump (pid %d) still runs after the run was cancelled", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failingRepo fails Put of data objects after failAfter bytes.
type failingRepo struct {
	repo.Repository
	failAfter int64
}

func (f *failingRepo) Put(ctx context.Context, key string, r io.Reader, o repo.PutOptions) (int64, error) {
	if !strings.HasSuffix(key, "/data.zst.age") {
		return f.Repository.Put(ctx, key, r, o)
	}
	return f.Repository.Put(ctx, key, &failingReader{r: r, left: f.failAfter}, o)
}

type failingReader struct {
	r    io.Reader
	left int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, fmt.Errorf("simulated network failure: %w", repo.ErrUnavailable)
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

func TestUploadFailsMidway(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"file", "s3"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var base repo.Repository
			if name == "file" {
				base, _ = repotest.OpenFile(t)
			} else {
				base = s3Repo(t)
			}
			// Parts of the smallest size, so that the failure comes after the
			// first part: an S3 multipart upload is under way when it fails
			// (with the default 16 MiB parts it would fail before one starts).
			r := &failingRepo{Repository: base, failAfter: repo.MinPartSize + 2<<20}
			data := make([]byte, 20<<20)
			_, _ = rand.Read(data)
			k := newKeyPair(t)
			_, err := backup.Run(t.Context(), r, &memSource{name: "src", data: data}, backup.RunOptions{Encryption: k.encryption(), PartSize: repo.MinPartSize})
			mustErr(t, err, repo.ErrUnavailable)
			noObjects(t, base)
			// Nothing half-uploaded is left either.
			if n, err := base.AbortIncomplete(t.Context(), "", 0); err != nil || n != 0 {
				t.Errorf("abandoned uploads: %d, %v", n, err)
			}
		})
	}
}

// TestManifestWriteFails: the data object is complete but the manifest
// cannot be written: the run fails and removes the data object.
func TestManifestWriteFails(t *testing.T) {
	t.Parallel()
	base, _ := repotest.OpenFile(t)
	r := &manifestFailRepo{Repository: base}
	k := newKeyPair(t)
	_, err := backup.Run(t.Context(), r, &memSource{name: "src", data: []byte("data")}, backup.RunOptions{Encryption: k.encryption()})
	mustErr(t, err, repo.ErrUnavailable)
	noObjects(t, base)
}

type manifestFailRepo struct{ repo.Repository }

func (m *manifestFailRepo) Put(ctx context.Context, key string, r io.Reader, o repo.PutOptions) (int64, error) {
	if strings.HasSuffix(key, "/manifest.json") {
		return 0, fmt.Errorf("simulated: %w", repo.ErrUnavailable)
	}
	return m.Repository.Put(ctx, key, r, o)
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"file", "s3"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var r repo.Repository
			if name == "file" {
				r, _ = repotest.OpenFile(t)
			} else {
				r = s3Repo(t)
			}
			k := newKeyPair(t)
			entered, release := make(chan struct{}), make(chan struct{})
			blocking := &memSource{name: "src", data: []byte("first"), open: func(ctx context.Context) error {
				close(entered)
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
			var first error
			var wg sync.WaitGroup
			wg.Go(func() {
				_, first = backup.Run(t.Context(), r, blocking, backup.RunOptions{Encryption: k.encryption()})
			})
			<-entered
			// The second run of the same source is refused while the first holds the lock.
			_, err := backup.Run(t.Context(), r, &memSource{name: "src", data: []byte("second")}, backup.RunOptions{Encryption: k.encryption()})
			mustErr(t, err, backup.ErrLocked)
			var le *backup.LockedError
			host, _ := os.Hostname()
			if !errors.As(err, &le) || le.Holder.PID != os.Getpid() || le.Holder.Host != host || le.Holder.Operation != "backup" {
				t.Errorf("locked error = %#v", err)
			}
			if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
				t.Errorf("the message does not name the holder: %v", err)
			}
			// Prune is refused too; another source is not.
			_, err = backup.Prune(t.Context(), r, "src", backup.Policy{KeepLast: 1}, time.Now(), false)
			mustErr(t, err, backup.ErrLocked)
			if _, err := backup.Run(t.Context(), r, &memSource{name: "other", data: []byte("x")}, backup.RunOptions{Encryption: k.encryption()}); err != nil {
				t.Errorf("a run of another source: %v", err)
			}
			close(release)
			wg.Wait()
			if first != nil {
				t.Fatal(first)
			}
			if _, err := backup.ReadLock(t.Context(), r, "src"); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("the lock was not released: %v", err)
			}
			entries, _ := backup.List(t.Context(), r, "src")
			if len(entries) != 1 || !entries[0].Complete() {
				t.Errorf("entries = %+v", entries)
			}
		})
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestStaleLock(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	now := time.Now().UTC()
	cases := []struct {
		name   string
		holder backup.LockInfo
		broken bool
	}{
		{"dead-pid-same-host", backup.LockInfo{Host: host, PID: deadPID(t), Started: now, Expires: now.Add(time.Hour), Operation: "backup", Token: "t"}, true},
		{"expired-other-host", backup.LockInfo{Host: "elsewhere", PID: 1, Started: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour), Operation: "backup", Token: "t"}, true},
		{"alive-other-host", backup.LockInfo{Host: "elsewhere", PID: 1, Started: now, Expires: now.Add(time.Hour), Operation: "backup", Token: "t"}, false},
		{"alive-same-host", backup.LockInfo{Host: host, PID: os.Getpid(), Started: now, Expires: now.Add(time.Hour), Operation: "prune", Token: "t"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := repotest.OpenFile(t)
			b, _ := jsonMarshal(tc.holder)
			if err := r.CreateExclusive(t.Context(), "src/lock", b); err != nil {
				t.Fatal(err)
			}
			k := newKeyPair(t)
			res, err := backup.Run(t.Context(), r, &memSource{name: "src", data: []byte("x")}, backup.RunOptions{Encryption: k.encryption()})
			if !tc.broken {
				mustErr(t, err, backup.ErrLocked)
				if !strings.Contains(err.Error(), tc.holder.Host) {
					t.Errorf("message does not name the holder's host: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "broke the stale lock") || !strings.Contains(res.Warnings[0], tc.holder.Host) {
				t.Errorf("warnings = %q", res.Warnings)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		t.Parallel()
		r, _ := repotest.OpenFile(t)
		if err := r.CreateExclusive(t.Context(), "src/lock", []byte("garbage")); err != nil {
			t.Fatal(err)
		}
		k := newKeyPair(t)
		res, err := backup.Run(t.Context(), r, &memSource{name: "src", data: []byte("x")}, backup.RunOptions{Encryption: k.encryption()})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "unreadable") {
			t.Errorf("warnings = %q", res.Warnings)
		}
	})
	t.Run("break-by-hand", func(t *testing.T) {
		t.Parallel()
		r, _ := repotest.OpenFile(t)
		b, _ := jsonMarshal(cases[2].holder)
		r.CreateExclusive(t.Context(), "src/lock", b)
		info, err := backup.BreakLock(t.Context(), r, "src")
		if err != nil || info.Host != "elsewhere" {
			t.Fatalf("BreakLock = %+v, %v", info, err)
		}
		if _, err := backup.ReadLock(t.Context(), r, "src"); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("lock still there: %v", err)
		}
	})
}

// TestLockRenewed: a run longer than its lock's TTL keeps the lock.
func TestLockRenewed(t *testing.T) {
	t.Parallel()
	r, _ := repotest.OpenFile(t)
	k := newKeyPair(t)
	var renewed atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	src := &memSource{name: "src", data: []byte("x"), open: func(ctx context.Context) error {
		close(entered)
		<-release
		return nil
	}}
	done := make(chan error, 1)
	go func() {
		_, err := backup.Run(t.Context(), r, src, backup.RunOptions{Encryption: k.encryption(), LockTTL: 3 * time.Second})
		done <- err
	}()
	<-entered
	first, err := backup.ReadLock(t.Context(), r, "src")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !renewed.Load() {
		cur, err := backup.ReadLock(t.Context(), r, "src")
		if err == nil && cur.Expires.After(first.Expires) && cur.Token == first.Token {
			renewed.Store(true)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock was never renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
