package backup

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"filippo.io/age"
)

// maxReadAlloc is what reading one backup may allocate, whatever its data
// object holds: TestBoundedMemory holds a 256 MiB verification to a 64 MiB
// heap peak, and a fuzzed object is a few KiB.
const maxReadAlloc = 64 << 20

// readFixture is a backup FuzzReadData reads, with the identities that
// decrypt it and some that do not.
type readFixture struct {
	s          sealed
	right      []age.Identity
	wrong      []age.Identity
	identities string
}

// fuzzPlaintext is compressible in parts and large enough for several age
// chunks (64 KiB) and zstd blocks (128 KiB).
func fuzzPlaintext(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		if (i/4096)%2 == 0 {
			b[i] = byte(rng.Uint32())
		} else {
			b[i] = byte(i / 1000)
		}
	}
	return b
}

func readFixtures(tb testing.TB) []readFixture {
	tb.Helper()
	right, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	wrong, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	scrypt := func(pass string) []age.Identity {
		id, err := PassphraseIdentity(pass)
		if err != nil {
			tb.Fatal(err)
		}
		// A fuzzed header may ask for any work factor: keep each run cheap.
		id.(*age.ScryptIdentity).SetMaxWorkFactor(10)
		return []age.Identity{id}
	}
	plain := fuzzPlaintext(200 << 10)
	ref := fuzzRef
	return []readFixture{
		{s: seal(tb, ref, KindDirectory, plain, Encryption{Recipients: []*age.X25519Recipient{right.Recipient()}}),
			right: []age.Identity{right}, wrong: []age.Identity{wrong}, identities: "x25519"},
		{s: seal(tb, ref, KindDirectory, plain, Encryption{Passphrase: "correct horse", ScryptWorkFactor: 2}),
			right: scrypt("correct horse"), wrong: scrypt("battery staple"), identities: "scrypt"},
		{s: seal(tb, ref, KindDirectory, plain, Encryption{Unencrypted: true}),
			right: nil, wrong: []age.Identity{wrong}, identities: "none"},
		{s: seal(tb, ref, KindEmbedded, []byte(sqliteMagic+"tiny"), Encryption{Unencrypted: true}),
			right: nil, wrong: nil, identities: "none, small"},
	}
}

// FuzzReadData reads fuzzed data objects (seeded with real ones, whole,
// truncated and with bytes flipped) through the restore pipeline: download,
// age, zstd and the manifest's checks. Only the untouched object with the
// right identity may read without error, and then as its plaintext; any
// other object or identity must fail with ErrIntegrity (exit code 12),
// without a panic, a hang or an allocation beyond maxReadAlloc.
func FuzzReadData(f *testing.F) {
	fixtures := readFixtures(f)
	for i, fx := range fixtures {
		obj := fx.s.object
		f.Add(uint8(i), false, obj)
		f.Add(uint8(i), true, obj)
		for _, n := range []int{0, 1, 30, len(obj) / 2, len(obj) - 1} {
			if n <= len(obj) {
				f.Add(uint8(i), false, obj[:n])
			}
		}
		for _, at := range []int{0, 5, 40, len(obj) / 3, len(obj) - 5} {
			if at < len(obj) {
				flipped := bytes.Clone(obj)
				flipped[at] ^= 0x55
				f.Add(uint8(i), false, flipped)
			}
		}
		f.Add(uint8(i), false, append(bytes.Clone(obj), 0))
		if !fx.s.manifest.Encrypted() && len(obj) > 5 && obj[4]&0x20 == 0 {
			// The frame header's window descriptor (byte 5) at the 512 MiB
			// zstd allows: Run never writes more than 8 MiB.
			wide := bytes.Clone(obj)
			wide[5] = 0x98
			f.Add(uint8(i), false, wide)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, wrongKey bool, object []byte) {
		fx := fixtures[int(which)%len(fixtures)]
		m := *fx.s.manifest
		// The stored size is checked before any download: make it match so
		// that the decoders see the fuzzed bytes.
		m.Data.StoredSize = int64(len(object))
		r := newMemRepo()
		r.set(m.dataKey(), object, time.Now())
		ids := fx.right
		if wrongKey {
			ids = fx.wrong
		}
		if m.Encrypted() && len(ids) == 0 {
			return
		}

		var out bytes.Buffer
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		go func() { done <- readAll(ctx, r, &m, ids, &out, nil) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("reading a %d-byte object (%s) hangs", len(object), fx.identities)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxReadAlloc {
			t.Fatalf("reading a %d-byte object (%s) allocated %d MiB (error: %v)", len(object), fx.identities, n>>20, err)
		}

		intact := bytes.Equal(object, fx.s.object) && (!wrongKey || !m.Encrypted())
		switch {
		case intact && err != nil:
			t.Fatalf("the intact backup (%s) does not read: %v", fx.identities, err)
		case intact && !bytes.Equal(out.Bytes(), fx.s.plain):
			t.Fatalf("the intact backup (%s) reads as other data", fx.identities)
		case intact:
		case err == nil:
			t.Fatalf("a changed object or wrong identity (%s, wrong key %v) read without error", fx.identities, wrongKey)
		case !errors.Is(err, ErrIntegrity):
			t.Fatalf("reading a damaged object (%s, wrong key %v): %v, want ErrIntegrity", fx.identities, wrongKey, err)
		case errors.Is(err, ErrIdentityRequired) || errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("reading a damaged object (%s): %v", fx.identities, err)
		}
	})
}
