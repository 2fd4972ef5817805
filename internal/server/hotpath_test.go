package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/server"
	"github.com/repairx/repairxctl/internal/server/clientip"
	"github.com/repairx/repairxctl/internal/server/ratelimit"
	"github.com/repairx/repairxctl/internal/server/revoke"
	"github.com/repairx/repairxctl/internal/store"
	"github.com/repairx/repairxctl/internal/store/sqlite"
)

// countingStore counts the reads an authenticated request makes.
type countingStore struct {
	store.Store
	userByID atomic.Int64
}

func (c *countingStore) UserByID(ctx context.Context, id string) (store.User, error) {
	c.userByID.Add(1)
	return c.Store.UserByID(ctx, id)
}

// inProcess builds a server on a fresh store without listeners, for the
// hot-path test and benchmarks.
func inProcess(tb testing.TB) (h http.Handler, cs *countingStore, dbPath string, token string) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	dbPath = filepath.Join(dir, "repairx.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	org, err := st.EnsureOrganisation(ctx, "Acme", now)
	if err != nil {
		tb.Fatal(err)
	}
	hasher, err := auth.NewHasher(auth.MinBcryptCost)
	if err != nil {
		tb.Fatal(err)
	}
	hash, err := hasher.Hash(testPassword)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{OrgID: org.ID, Email: "bench@example.test", PasswordHash: hash, Role: store.RoleTechnician, CreatedAt: now})
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := auth.NewKeys(now)
	if err != nil {
		tb.Fatal(err)
	}
	cs = &countingStore{Store: st}
	settings := server.DefaultSettings()
	// Limits high enough that the benchmark measures the work, not refusals.
	settings.Policy.Global = ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1 << 20}
	settings.Policy.API = ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1 << 20}
	settings.Policy.User = ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1 << 20}
	settings.TrustedProxies = clientip.PrefixSet{}
	settings.AllowList = clientip.MustParsePrefixes("198.51.100.0/24")
	srv, err := server.New(server.Options{
		Store: cs, Keys: auth.NewStaticKeys(keys), Hasher: hasher,
		Limiter: ratelimit.NewMemoryLimiter(ratelimit.MemoryOptions{}), Blocker: ratelimit.NewMemoryBlocker(ratelimit.MemoryOptions{}),
		Revoked: revoke.NewMemory(), Audit: audit.NewRecorder(nil, st), Settings: settings,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tokens := auth.NewTokens(auth.NewStaticKeys(keys), auth.TokenConfig{Issuer: settings.Issuer, Audience: settings.Issuer, AccessTTL: time.Hour})
	token, _, err = tokens.IssueAccess(auth.AccessClaims{UserID: u.ID, Role: string(u.Role), OrgID: org.ID, SessionID: "s1"}, now)
	if err != nil {
		tb.Fatal(err)
	}
	return srv.Handler(), cs, dbPath, token
}

func me(h http.Handler, token string) int {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestAuthenticatedRequestWritesNothing holds the hot-path promise: an
// authenticated request does one primary-key read of the user and writes
// nothing (the store's write-ahead log does not grow).
func TestAuthenticatedRequestWritesNothing(t *testing.T) {
	h, cs, dbPath, token := inProcess(t)
	if code := me(h, token); code != http.StatusOK { // warm the organisation cache
		t.Fatalf("GET /me: %d", code)
	}
	walSize := func() int64 {
		fi, err := os.Stat(dbPath + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before, reads := walSize(), cs.userByID.Load()
	const n = 50
	for range n {
		if code := me(h, token); code != http.StatusOK {
			t.Fatalf("GET /me: %d", code)
		}
	}
	if got := cs.userByID.Load() - reads; got != n {
		t.Errorf("%d user reads for %d requests, want one each", got, n)
	}
	if after := walSize(); after != before {
		t.Errorf("the write-ahead log grew from %d to %d bytes: authenticated requests wrote", before, after)
	}
}

// BenchmarkAuthenticatedMe is GET /api/v1/me through the whole middleware
// chain in process (no TLS, no network): the server's own cost per request.
func BenchmarkAuthenticatedMe(b *testing.B) {
	h, _, _, token := inProcess(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := me(h, token); code != http.StatusOK {
				b.Fatalf("GET /me: %d", code)
			}
		}
	})
}

// BenchmarkLive is the liveness probe through the chain.
func BenchmarkLive(b *testing.B) {
	h, _, _, _ := inProcess(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/api/health/live", nil)
			req.RemoteAddr = "192.0.2.10:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("live: %d", rec.Code)
			}
		}
	})
}
