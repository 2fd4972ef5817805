package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/repairx/repairxctl/internal/store"
)

// blobCases run on stores that implement store.Blobs.
var blobCases = []testCase{
	{"CreateReadReplace", func(t *testing.T, s store.Store) {
		b := blobs(t, s)
		ctx := context.Background()
		if _, err := b.Blob(ctx, "keyring"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Blob of a missing name: %v, want ErrNotFound", err)
		}
		got, err := b.CreateBlob(ctx, "keyring", []byte("v1"), at(0))
		if err != nil || string(got) != "v1" {
			t.Fatalf("CreateBlob = %q, %v", got, err)
		}
		// A second create keeps the first value and returns it.
		got, err = b.CreateBlob(ctx, "keyring", []byte("v2"), at(1))
		if err != nil || string(got) != "v1" {
			t.Fatalf("second CreateBlob = %q, %v; want the first value", got, err)
		}
		if err := b.ReplaceBlob(ctx, "keyring", []byte("stale"), []byte("v3"), at(2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("ReplaceBlob with a stale old value: %v, want ErrConflict", err)
		}
		if err := b.ReplaceBlob(ctx, "keyring", []byte("v1"), []byte("v3"), at(2)); err != nil {
			t.Fatal(err)
		}
		if v, err := b.Blob(ctx, "keyring"); err != nil || string(v) != "v3" {
			t.Fatalf("Blob after replace = %q, %v", v, err)
		}
		if err := b.ReplaceBlob(ctx, "other", nil, []byte("x"), at(3)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ReplaceBlob of a missing name: %v, want ErrNotFound", err)
		}
		if _, err := b.CreateBlob(ctx, "empty", nil, at(0)); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("CreateBlob with an empty value: %v, want ErrInvalid", err)
		}
		// Binary values round-trip.
		bin := []byte{0, 1, 2, 0xff, 0xfe, 0}
		if got, err := b.CreateBlob(ctx, "bin", bin, at(0)); err != nil || !bytes.Equal(got, bin) {
			t.Fatalf("binary CreateBlob = %x, %v", got, err)
		}
	}},
	{"ConcurrentCreateOneWinner", func(t *testing.T, s store.Store) {
		b := blobs(t, s)
		const n = 16
		var wg sync.WaitGroup
		results := make([][]byte, n)
		for i := range n {
			wg.Go(func() {
				v, err := b.CreateBlob(context.Background(), "race", []byte{byte('a' + i)}, at(0))
				if err != nil {
					t.Error(err)
				}
				results[i] = v
			})
		}
		wg.Wait()
		for i := range n {
			if !bytes.Equal(results[i], results[0]) {
				t.Fatalf("creators saw different values: %q and %q", results[0], results[i])
			}
		}
	}},
	{"ConcurrentReplaceOneWinner", func(t *testing.T, s store.Store) {
		b := blobs(t, s)
		ctx := context.Background()
		if _, err := b.CreateBlob(ctx, "cas", []byte("v0"), at(0)); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range n {
			wg.Go(func() {
				err := b.ReplaceBlob(ctx, "cas", []byte("v0"), []byte{byte('a' + i)}, at(1))
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d replacements of one value succeeded, want 1", wins)
		}
	}},
}

func blobs(t *testing.T, s store.Store) store.Blobs {
	t.Helper()
	b, ok := s.(store.Blobs)
	if !ok {
		t.Skip("the store does not implement store.Blobs")
	}
	return b
}
