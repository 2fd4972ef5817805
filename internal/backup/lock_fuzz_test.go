package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// FuzzAcquireLock puts arbitrary content in a source's lock object, as a
// crashed run, another version or a damaged repository could leave it, and
// takes the lock. A lock that parses, has not expired and whose holder may
// be alive must be respected (ErrLocked, the object untouched): breaking it
// would let two runs write at once. Anything else is stale and is taken.
func FuzzAcquireLock(f *testing.F) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	host, _ := os.Hostname()
	for _, info := range []LockInfo{
		{Host: "elsewhere", PID: 42, Started: now.Add(-time.Minute), Expires: now.Add(time.Hour), Operation: "backup", Token: "t"},
		{Host: "elsewhere", PID: 42, Started: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour), Operation: "prune", Token: "t"},
		{Host: host, PID: os.Getpid(), Expires: now.Add(time.Hour), Token: "t"},
		{Host: host, PID: 1 << 30, Expires: now.Add(time.Hour), Token: "t"},
		{Host: host, PID: -1, Expires: now.Add(time.Hour)},
	} {
		b, err := marshalJSON(info)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(`{"expires":"9999-12-31T23:59:59Z"}`))
	f.Add([]byte(`{"expires":"2026-11-23T02:00:00Z","EXPIRES":"2000-01-01T00:00:00Z"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, content []byte) {
		r := newMemRepo()
		key := lockKey("db")
		r.set(key, content, now)
		lk, err := acquireLock(context.Background(), r, "db",
			lockOptions{operation: "backup", ttl: time.Minute, now: func() time.Time { return now }, rep: newReporter(nil)})

		var info LockInfo
		// The rule, spelled out here rather than taken from staleReason (the
		// code under test): a lock that parses is live until it expires,
		// unless its holder is a process of this host that is gone.
		respected := len(content) <= 1<<16 && json.Unmarshal(content, &info) == nil &&
			!now.After(info.Expires) && (info.Host != host || info.PID <= 0 || pidAlive(info.PID))
		if reason := info.staleReason(now, host); respected && reason != "" {
			t.Fatalf("staleReason calls the live lock %q stale: %s", content, reason)
		}
		rc, gerr := r.Get(context.Background(), key)
		if gerr != nil {
			t.Fatalf("the lock object is gone: %v", gerr)
		}
		stored, _ := io.ReadAll(rc)
		if respected {
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("a live lock %q was not respected: %v", content, err)
			}
			if !bytes.Equal(stored, content) {
				t.Fatalf("a live lock was changed from %q to %q", content, stored)
			}
			return
		}
		if err != nil {
			t.Fatalf("a stale or unreadable lock %q was not taken: %v", content, err)
		}
		var mine LockInfo
		if err := json.Unmarshal(stored, &mine); err != nil || mine.Token != lk.info.Token {
			t.Fatalf("the lock holds %q, not ours (%v)", stored, err)
		}
		if err := lk.release(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
