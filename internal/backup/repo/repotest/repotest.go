// Package repotest is the conformance suite every repo.Repository passes: the
// file repository and the S3 one run the same tests, so the backup pipeline
// can rely on one behaviour.
package repotest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// BigSize is the size of the object the memory test streams; with
// repo.MinPartSize parts it takes eight of them.
const BigSize = 40 << 20

// OpenFile opens an empty file repository in a directory of t's and
// returns it with that directory.
func OpenFile(t *testing.T) (repo.Repository, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(t.Context(), "file://"+filepath.ToSlash(dir), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

// Run runs the suite. open returns an empty repository for the (sub)test it is
// given; it is called once per subtest, and subtests run in parallel except
// the memory test, which runs first and alone so that it measures one Put.
func Run(t *testing.T, open func(t *testing.T) repo.Repository) {
	t.Run("BoundedMemory", func(t *testing.T) { testBoundedMemory(t, open(t)) })
	tests := []struct {
		name string
		fn   func(*testing.T, repo.Repository)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"ReaderFailsMidway", testReaderFails},
		{"CancelMidUpload", testCancelMidUpload},
		{"CancelledContext", testCancelledContext},
		{"ListStatDelete", testListStatDelete},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"CreateExclusive", testCreateExclusive},
		{"CreateExclusiveConcurrent", testCreateExclusiveConcurrent},
		{"AbortIncomplete", testAbortIncomplete},
		{"URL", testURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// stream returns size deterministic pseudo-random bytes: incompressible, and
// generated as they are read, so the test holds no copy of its own.
func stream(seed uint64, size int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return io.LimitReader(rand.NewChaCha8(s), size)
}

func digest(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

// put stores size bytes of stream(seed) under key.
func put(t *testing.T, r repo.Repository, key string, seed uint64, size int64) {
	t.Helper()
	n, err := r.Put(t.Context(), key, stream(seed, size), repo.PutOptions{PartSize: repo.MinPartSize})
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, size, err)
	}
	if n != size {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, size)
	}
}

// check reads key back and compares it with stream(seed, size).
func check(t *testing.T, r repo.Repository, key string, seed uint64, size int64) {
	t.Helper()
	rc, err := r.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	got, n := digest(t, rc)
	want, _ := digest(t, stream(seed, size))
	if n != size || got != want {
		t.Fatalf("Get(%q): %d bytes, sha256 %x; want %d bytes, sha256 %x", key, n, got[:8], size, want[:8])
	}
	obj, err := r.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if obj.Key != key || obj.Size != size || obj.Modified.IsZero() {
		t.Fatalf("Stat(%q) = %+v, want key %q, size %d and a time", key, obj, key, size)
	}
}

// absent asserts that key holds no object and that no incomplete upload is
// left under it.
func absent(t *testing.T, r repo.Repository, key string) {
	t.Helper()
	if _, err := r.Stat(t.Context(), key); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat(%q) after a failed Put: err = %v, want ErrNotFound", key, err)
	}
	if objs, err := r.List(t.Context(), ""); err != nil || len(objs) != 0 {
		t.Errorf("List after a failed Put = %v, %v; want nothing", objs, err)
	}
	// With olderThan 0 everything counts, so this is "nothing left over".
	if n, err := r.AbortIncomplete(t.Context(), "", 0); err != nil || n != 0 {
		t.Errorf("AbortIncomplete after a failed Put = %d, %v; want 0 leftovers", n, err)
	}
}

func testRoundTrip(t *testing.T, r repo.Repository) {
	sizes := []int64{0, 1, 1000, 64<<10 - 1, 64 << 10, 64<<10 + 1, repo.MinPartSize, repo.MinPartSize + 1, 2*repo.MinPartSize + 7}
	for i, size := range sizes {
		key := fmt.Sprintf("round/trip-%d", size)
		put(t, r, key, uint64(i), size)
		check(t, r, key, uint64(i), size)
	}
	// A part size S3 refuses is refused everywhere.
	for _, ps := range []int64{1, repo.MinPartSize - 1, repo.MaxPartSize + 1} {
		if _, err := r.Put(t.Context(), "round/bad-part", strings.NewReader("x"), repo.PutOptions{PartSize: ps}); err == nil {
			t.Errorf("Put with part size %d succeeded", ps)
		}
	}
	if _, err := r.Stat(t.Context(), "round/bad-part"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat after a refused Put: %v", err)
	}
	// Options every repository accepts, whether or not it keeps them.
	n, err := r.Put(t.Context(), "round/with-options", strings.NewReader("{}"), repo.PutOptions{
		ContentType: "application/json", Metadata: map[string]string{"backup-id": "20240101T020000Z"},
	})
	if err != nil || n != 2 {
		t.Fatalf("Put with content type and metadata = %d, %v", n, err)
	}
}

func testOverwrite(t *testing.T, r repo.Repository) {
	put(t, r, "o/x", 1, 100)
	put(t, r, "o/x", 2, 50)
	check(t, r, "o/x", 2, 50)
	put(t, r, "o/x", 3, repo.MinPartSize+10)
	check(t, r, "o/x", 3, repo.MinPartSize+10)
}

// testBoundedMemory streams BigSize bytes and checks that the bytes allocated
// while doing so, and the growth of the heap, stay well below the object size.
func testBoundedMemory(t *testing.T, r repo.Repository) {
	const key = "big/object"
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	metrics.Read(samples)
	allocs0, heap0 := samples[0].Value.Uint64(), samples[1].Value.Uint64()

	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	began := time.Now()
	n, err := r.Put(t.Context(), key, stream(42, BigSize), repo.PutOptions{PartSize: repo.MinPartSize})
	took := time.Since(began)
	close(stop)
	sampler.Wait()
	metrics.Read(samples)
	if err != nil || n != BigSize {
		t.Fatalf("Put(%d MiB) = %d, %v", BigSize>>20, n, err)
	}
	allocated := samples[0].Value.Uint64() - allocs0
	growth := int64(peak.Load()) - int64(heap0)
	t.Logf("Put of %d MiB in %d MiB parts: %v, %.1f MiB allocated, peak heap growth %.1f MiB",
		BigSize>>20, repo.MinPartSize>>20, took.Round(time.Millisecond), float64(allocated)/(1<<20), float64(growth)/(1<<20))
	if limit := uint64(BigSize / 2); allocated > limit {
		t.Errorf("Put allocated %d bytes for a %d-byte object; want at most %d: it must stream", allocated, BigSize, limit)
	}
	if limit := int64(BigSize / 2); growth > limit {
		t.Errorf("the heap grew by %d bytes during a Put of %d bytes; want at most %d", growth, BigSize, limit)
	}
	check(t, r, key, 42, BigSize)
}

var errSource = errors.New("source failed")

// failingReader yields size bytes of stream(seed), then errSource.
type failingReader struct {
	r    io.Reader
	left int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errSource
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

func testReaderFails(t *testing.T, r repo.Repository) {
	// Within the first read, within the first part, and after several parts.
	for _, at := range []int64{0, 10, repo.MinPartSize - 1, 2*repo.MinPartSize + 100} {
		key := fmt.Sprintf("fail/at-%d", at)
		n, err := r.Put(t.Context(), key, &failingReader{r: stream(1, 1<<40), left: at}, repo.PutOptions{PartSize: repo.MinPartSize})
		if !errors.Is(err, errSource) {
			t.Fatalf("Put failing after %d bytes = %d, %v; want errSource", at, n, err)
		}
		if n != 0 {
			t.Errorf("Put failing after %d bytes reports %d bytes written, want 0", at, n)
		}
		absent(t, r, key)
	}
}

// cancellingReader cancels the context once size bytes have been read, and
// goes on yielding data, like a source that does not know about the context.
type cancellingReader struct {
	r      io.Reader
	read   int64
	at     int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.at {
		c.cancel()
	}
	return n, err
}

func testCancelMidUpload(t *testing.T, r repo.Repository) {
	for _, at := range []int64{10, repo.MinPartSize + 1<<20, 3*repo.MinPartSize + 1} {
		key := fmt.Sprintf("cancel/at-%d", at)
		ctx, cancel := context.WithCancel(t.Context())
		src := &cancellingReader{r: stream(2, 1<<40), at: at, cancel: cancel}
		done := make(chan struct{})
		var err error
		go func() {
			defer close(done)
			_, err = r.Put(ctx, key, src, repo.PutOptions{PartSize: repo.MinPartSize})
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("Put went on for a minute after its context was cancelled")
		}
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled after %d bytes: err = %v, want context.Canceled", at, err)
		}
		absent(t, r, key)
	}
}

func testCancelledContext(t *testing.T, r repo.Repository) {
	put(t, r, "c/x", 1, 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Get(ctx, "c/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	if _, err := r.Stat(ctx, "c/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v", err)
	}
	if _, err := r.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if _, err := r.Put(ctx, "c/y", strings.NewReader("y"), repo.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}
	if err := r.CreateExclusive(ctx, "c/z", []byte("z")); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateExclusive with a cancelled context: %v", err)
	}
	check(t, r, "c/x", 1, 10)
}

func keys(objs []repo.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return ks
}

func testListStatDelete(t *testing.T, r repo.Repository) {
	ctx := t.Context()
	if objs, err := r.List(ctx, ""); err != nil || objs == nil || len(objs) != 0 {
		t.Fatalf("List of an empty repository = %#v, %v; want an empty, non-nil list", objs, err)
	}
	all := []string{"a-b", "a/1", "a/2", "a/sub/3", "ab", "b/c/d", "z"}
	before := time.Now().Add(-time.Hour)     // generous: file systems and servers round times
	for i, k := range slices.Backward(all) { // sorting is List's job
		put(t, r, k, uint64(i), int64(len(k)))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a", []string{"a-b", "a/1", "a/2", "a/sub/3", "ab"}},
		{"a/", []string{"a/1", "a/2", "a/sub/3"}},
		{"a/s", []string{"a/sub/3"}},
		{"b/c", []string{"b/c/d"}},
		{"b/c/d", []string{"b/c/d"}},
		{"nothing", nil},
		{"nothing/", nil},
	}
	for _, tc := range tests {
		objs, err := r.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if got := keys(objs); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		if objs == nil {
			t.Errorf("List(%q) = nil, want an empty list", tc.prefix)
		}
	}
	objs, _ := r.List(ctx, "a/1")
	if len(objs) != 1 || objs[0].Size != int64(len("a/1")) || objs[0].Modified.Before(before) {
		t.Errorf("List(a/1) = %+v: want size %d and a recent time", objs, len("a/1"))
	}

	for _, k := range []string{"a/1", "a/sub/3", "b/c/d"} {
		if err := r.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		if _, err := r.Stat(ctx, k); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Stat(%q) after Delete: %v, want ErrNotFound", k, err)
		}
		if err := r.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) a second time: %v, want nil", k, err)
		}
	}
	objs, err := r.List(ctx, "")
	if got, want := keys(objs), []string{"a-b", "a/2", "ab", "z"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("List after deletes = %q, %v; want %q", got, err, want)
	}
	// A key whose directory Delete emptied can be written again.
	put(t, r, "b/c/d", 9, 9)
	check(t, r, "b/c/d", 9, 9)
}

func testNotFound(t *testing.T, r repo.Repository) {
	ctx := t.Context()
	put(t, r, "dir/file", 1, 1)
	for _, k := range []string{"missing", "dir/missing", "dir", "dir/file/below", "missing/deeper/still"} {
		if _, err := r.Get(ctx, k); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", k, err)
		}
		if _, err := r.Stat(ctx, k); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("Stat(%q): %v, want ErrNotFound", k, err)
		}
		if err := r.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): %v, want nil", k, err)
		}
	}
	check(t, r, "dir/file", 1, 1)
}

func testInvalidKeys(t *testing.T, r repo.Repository) {
	ctx := t.Context()
	bad := []string{"", "/abs", "../x", "a/../../x", "a/..", "a//b", `a\b`, `..\x`, "a/", ".", "a/./b",
		"x\x00y", "new\nline", ".tmp-0123456789abcdef-x", "a/.tmp-y", strings.Repeat("s", 201), "\xff"}
	for _, k := range bad {
		if _, err := r.Put(ctx, k, strings.NewReader("x"), repo.PutOptions{}); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", k, err)
		}
		if _, err := r.Get(ctx, k); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("Get(%q): %v, want ErrInvalidKey", k, err)
		}
		if _, err := r.Stat(ctx, k); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("Stat(%q): %v, want ErrInvalidKey", k, err)
		}
		if err := r.Delete(ctx, k); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v, want ErrInvalidKey", k, err)
		}
		if err := r.CreateExclusive(ctx, k, nil); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("CreateExclusive(%q): %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"/", "/abs", "..", "../", "a/../b", `a\`, "a//"} {
		if _, err := r.List(ctx, p); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("List(%q): %v, want ErrInvalidKey", p, err)
		}
		if _, err := r.AbortIncomplete(ctx, p, 0); !errors.Is(err, repo.ErrInvalidKey) {
			t.Errorf("AbortIncomplete(%q): %v, want ErrInvalidKey", p, err)
		}
	}
	if objs, err := r.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Errorf("List after invalid keys = %v, %v; want nothing written", objs, err)
	}
	// Unusual but valid keys.
	for _, k := range []string{"ünïcödé/ключ", "a b/c+d=e", ".hidden", "..dots", "x.tmp-y", strings.Repeat("s", 200)} {
		put(t, r, k, 3, 3)
		check(t, r, k, 3, 3)
	}
}

func testCreateExclusive(t *testing.T, r repo.Repository) {
	ctx := t.Context()
	if err := r.CreateExclusive(ctx, "locks/db", []byte("first")); err != nil {
		t.Fatalf("CreateExclusive: %v", err)
	}
	if err := r.CreateExclusive(ctx, "locks/db", []byte("second")); !errors.Is(err, repo.ErrExists) {
		t.Fatalf("CreateExclusive on an existing key: %v, want ErrExists", err)
	}
	if got := read(t, r, "locks/db"); got != "first" {
		t.Fatalf("lock holds %q, want %q", got, "first")
	}
	if err := r.CreateExclusive(ctx, "locks/empty", nil); err != nil {
		t.Fatalf("CreateExclusive with an empty body: %v", err)
	}
	if got := read(t, r, "locks/empty"); got != "" {
		t.Fatalf("empty lock holds %q", got)
	}
	// Released (deleted), the key can be taken again.
	if err := r.Delete(ctx, "locks/db"); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateExclusive(ctx, "locks/db", []byte("third")); err != nil {
		t.Fatalf("CreateExclusive after Delete: %v", err)
	}
	if got := read(t, r, "locks/db"); got != "third" {
		t.Fatalf("lock holds %q, want %q", got, "third")
	}
	if objs, err := r.List(ctx, "locks/"); err != nil || len(objs) != 2 {
		t.Errorf("List(locks/) = %v, %v; want the two locks and nothing else", objs, err)
	}
}

func read(t *testing.T, r repo.Repository, key string) string {
	t.Helper()
	rc, err := r.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(b)
}

func testCreateExclusiveConcurrent(t *testing.T, r repo.Repository) {
	const n = 16
	for round := range 3 {
		key := fmt.Sprintf("race/lock-%d", round)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = r.CreateExclusive(t.Context(), key, []byte(fmt.Sprintf("holder %d", i)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: both %d and %d got the lock", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, repo.ErrExists):
				t.Fatalf("round %d: CreateExclusive %d: %v, want nil or ErrExists", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody got the lock", round)
		}
		if got, want := read(t, r, key), fmt.Sprintf("holder %d", winner); got != want {
			t.Fatalf("round %d: the lock holds %q, but %q won", round, got, want)
		}
	}
}

// blockingReader yields size bytes of data, then blocks until release, then
// fails: an upload interrupted in the middle, as a killed process leaves it.
type blockingReader struct {
	r       io.Reader
	left    int64
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.once.Do(func() { close(b.blocked) })
		<-b.release
		return 0, errSource
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func testAbortIncomplete(t *testing.T, r repo.Repository) {
	ctx := t.Context()
	put(t, r, "inc/done", 1, 100) // complete objects are not leftovers
	src := &blockingReader{r: stream(5, 1<<40), left: repo.MinPartSize, blocked: make(chan struct{}), release: make(chan struct{})}
	var putErr error
	putDone := make(chan struct{})
	go func() {
		defer close(putDone)
		_, putErr = r.Put(ctx, "inc/partial", src, repo.PutOptions{PartSize: repo.MinPartSize})
	}()
	defer func() {
		close(src.release)
		<-putDone
	}()
	select {
	case <-src.blocked:
	case <-putDone:
		t.Fatalf("Put ended before its source blocked: %v", putErr)
	case <-time.After(time.Minute):
		t.Fatal("the source was not read to its end within a minute")
	}
	// The upload is under way: it is not complete...
	if _, err := r.Stat(ctx, "inc/partial"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat of an object being written: %v, want ErrNotFound", err)
	}
	if objs, err := r.List(ctx, "inc/"); err != nil || !slices.Equal(keys(objs), []string{"inc/done"}) {
		t.Errorf("List during an upload = %v, %v; want only the complete object", objs, err)
	}
	// ...it is too young for an hour's cut-off, and not under other prefixes...
	if n, err := r.AbortIncomplete(ctx, "inc/", time.Hour); err != nil || n != 0 {
		t.Errorf("AbortIncomplete(inc/, 1h) = %d, %v; want 0: the upload is younger", n, err)
	}
	for _, p := range []string{"other", "inc/d", "inc/partial/"} {
		if n, err := r.AbortIncomplete(ctx, p, 0); err != nil || n != 0 {
			t.Errorf("AbortIncomplete(%q, 0) = %d, %v; want 0", p, n, err)
		}
	}
	// ...and once it is older than the cut-off, it goes. Poll: clocks and
	// timestamps are coarse.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := r.AbortIncomplete(ctx, "inc/par", 10*time.Millisecond)
		if err != nil {
			t.Fatalf("AbortIncomplete: %v", err)
		}
		if n == 1 {
			break
		}
		if n != 0 || time.Now().After(deadline) {
			t.Fatalf("AbortIncomplete(inc/par, 10ms) = %d, want 1 within 20 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := r.AbortIncomplete(ctx, "", 0); err != nil || n != 0 {
		t.Errorf("AbortIncomplete a second time = %d, %v; want 0", n, err)
	}
	close(src.release)
	<-putDone
	src.release = make(chan struct{}) // for the deferred close
	if putErr == nil {
		t.Errorf("Put whose upload was aborted and whose source failed succeeded")
	}
	if _, err := r.Stat(ctx, "inc/partial"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat after the aborted upload: %v, want ErrNotFound", err)
	}
	check(t, r, "inc/done", 1, 100)
}

func testURL(t *testing.T, r repo.Repository) {
	u := r.URL()
	if !strings.Contains(u, "://") || strings.Contains(u, "@") {
		t.Errorf("URL() = %q: want a URL without credentials", u)
	}
}
