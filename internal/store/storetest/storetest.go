// Package storetest is the conformance suite of store.Store. Every
// implementation runs it (store/sqlite on a temporary file, the PostgreSQL
// store on a throw-away database), so that serve behaves the same on both.
//
// Each case checks behaviour documented on the store interfaces. Times are
// fixed (the store never reads the clock) and carry nanoseconds and a
// non-UTC zone, so every round trip also checks the truncation to the
// microsecond and the conversion to UTC. The concurrency cases start many
// goroutines at once against one store and count the winners; an
// implementation shared by several processes should also run such races with
// two stores on one database (store/sqlite's tests do).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

// Run runs the suite as subtests of t. open must return a fresh, empty,
// migrated store for the subtest it is given and close it in a t.Cleanup.
// It is called from parallel subtests. One case closes its store itself, so
// the cleanup must accept a store that is already closed.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Organisations", organisationCases},
		{"Users", userCases},
		{"TOTP", totpCases},
		{"RefreshTokens", tokenCases},
		{"Lockouts", lockoutCases},
		{"Audit", auditCases},
		{"Store", storeCases},
		{"Migrator", migratorCases},
		{"Blobs", blobCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					if s == nil {
						t.Fatal("open returned a nil store")
					}
					c.run(t, s)
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// t0 is the suite's "now": nanoseconds and a zone other than UTC, which
// every store must drop on the way in.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_897_932, time.FixedZone("CET", 60*60))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// stored is t as a store returns it: UTC, truncated to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkTime reports got unless it is want as stored.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	w := stored(want)
	if !got.Equal(w) || got.Location() != time.UTC {
		t.Errorf("%s = %v (%s), want %v (UTC)", what, got, got.Location(), w)
	}
}

// checkTimePtr is checkTime for optional times; want nil means unset.
func checkTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s = %v, want nil", what, *got)
	case want != nil && got == nil:
		t.Errorf("%s = nil, want %v", what, stored(*want))
	case want != nil:
		checkTime(t, what, *got, *want)
	}
}

func ptr[T any](v T) *T { return &v }

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustOrg(t *testing.T, s store.Store, name string) store.Organisation {
	t.Helper()
	o, err := s.CreateOrganisation(t.Context(), store.Organisation{Name: name, CreatedAt: t0})
	must(t, "CreateOrganisation "+name, err)
	return o
}

func mustUser(t *testing.T, s store.Store, orgID, email string, role store.Role) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), store.User{
		OrgID: orgID, Email: email, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Role: role, CreatedAt: t0,
	})
	must(t, "CreateUser "+email, err)
	return u
}

// userFixture creates an organisation and one technician in it.
func userFixture(t *testing.T, s store.Store) store.User {
	t.Helper()
	return mustUser(t, s, mustOrg(t, s, "Fixture Repairs").ID, "tech@example.com", store.RoleTechnician)
}

// race runs fn(i) for i in [0, n) on n goroutines released together, and
// waits for all of them.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// raceN is how many goroutines the concurrency cases start.
const raceN = 16

// raceRounds is how often the cases whose race can go either way repeat it.
const raceRounds = 8

// ctxCancelled returns a context that is already cancelled.
func ctxCancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// tokenHash returns a distinct SHA-256-sized hash for a label.
func tokenHash(label string) []byte { return store.HashToken("refresh-token:" + label) }

func describe(v any) string { return fmt.Sprintf("%+v", v) }
