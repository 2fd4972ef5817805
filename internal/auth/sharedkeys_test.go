package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// memBlobs is a minimal BlobStore; the stores' own implementations run the
// store conformance suite.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

var errNotFound = errors.New("not found")

func (b *memBlobs) Blob(_ context.Context, name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.m[name]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (b *memBlobs) CreateBlob(_ context.Context, name string, v []byte, _ time.Time) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.m[name]; ok {
		return cur, nil
	}
	b.m[name] = v
	return v, nil
}

func TestSharedKeysOneRingForAllNodes(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, KeySize)
	bs := &memBlobs{m: map[string][]byte{}}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	const nodes = 8
	rings := make([]*Keys, nodes)
	created := make([]bool, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			k, c, err := LoadOrCreateSharedKeys(context.Background(), bs, kek, now)
			if err != nil {
				t.Error(err)
				return
			}
			rings[i], created[i] = k, c
		})
	}
	wg.Wait()
	winners := 0
	for i := range nodes {
		if created[i] {
			winners++
		}
		if rings[i] == nil || rings[i].Signing.Current.ID != rings[0].Signing.Current.ID ||
			!bytes.Equal(rings[i].Data.Current.Secret, rings[0].Data.Current.Secret) {
			t.Fatalf("node %d has another key ring", i)
		}
	}
	if winners != 1 {
		t.Errorf("%d nodes report creating the ring, want 1", winners)
	}
	// The stored blob holds no key in the clear.
	sealed := bs.m[KeyRingBlob]
	if bytes.Contains(sealed, rings[0].Signing.Current.Secret) ||
		strings.Contains(string(sealed), base64.StdEncoding.EncodeToString(rings[0].Signing.Current.Secret)) {
		t.Fatal("the sealed ring contains a key in the clear")
	}
	// Another key-encryption key cannot open it.
	other := bytes.Repeat([]byte{8}, KeySize)
	_, _, err := LoadOrCreateSharedKeys(context.Background(), bs, other, now)
	if err == nil || !strings.Contains(err.Error(), "auth.key_encryption_key") {
		t.Fatalf("wrong KEK: %v", err)
	}
	// A flipped byte is refused.
	bad := bytes.Clone(sealed)
	bad[len(bad)/2] ^= 1
	if _, err := OpenKeys(kek, bad); err == nil {
		t.Fatal("a tampered ring opened")
	}
}

func TestParseKEK(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, KeySize)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
		strings.Repeat("ab", KeySize), " " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		got, err := ParseKEK(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseKEK(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:16]), strings.Repeat("zz", KeySize)} {
		if _, err := ParseKEK(s); err == nil {
			t.Errorf("ParseKEK(%q) accepted", s)
		}
	}
}
