package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/version"
)

// DefaultLockTTL is how long a lock lasts without renewal. A run renews its
// lock every third of it, so a run killed on another host blocks the next
// one for at most this long; on the same host its dead pid frees the lock
// at once.
const DefaultLockTTL = 30 * time.Minute

// cleanupTimeout bounds the work done after a run's context has ended
// (releasing the lock, removing a half-written backup).
const cleanupTimeout = 30 * time.Second

// LockInfo is the content of a source's lock object, <source>/lock.
type LockInfo struct {
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Started     time.Time `json:"started"`
	Expires     time.Time `json:"expires"`
	Operation   string    `json:"operation"` // "backup" or "prune"
	ToolVersion string    `json:"tool_version"`
	// Token identifies the holder: a run only renews or releases a lock
	// whose token is its own.
	Token string `json:"token"`
}

// staleReason says why the holder of info is gone, or "" if it may be alive.
func (info LockInfo) staleReason(now time.Time, host string) string {
	if now.After(info.Expires) {
		return fmt.Sprintf("it expired at %s", info.Expires.UTC().Format(time.RFC3339))
	}
	if info.Host == host && info.PID > 0 && !pidAlive(info.PID) {
		return fmt.Sprintf("process %d on this host is gone", info.PID)
	}
	return ""
}

// lockOptions configure acquireLock.
type lockOptions struct {
	operation string
	ttl       time.Duration
	now       func() time.Time
	rep       *reporter
}

// lock is a held source lock, renewed in the background until released.
type lock struct {
	r    repo.Repository
	key  string
	ttl  time.Duration
	now  func() time.Time
	rep  *reporter
	info LockInfo

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// acquireLock takes the lock of source with repo.CreateExclusive. A held
// lock is ErrLocked (a *LockedError); a stale one (expired, or held by a
// dead process on this host) is broken with a warning and taken.
//
// Breaking is not atomic on object stores: two runs that find the same
// stale lock at the same moment could both take it. Each re-reads the lock
// before deleting it, which narrows the window to milliseconds; two
// overlapping runs still write two separate, complete backups.
func acquireLock(ctx context.Context, r repo.Repository, source string, o lockOptions) (*lock, error) {
	host, _ := os.Hostname()
	now := o.now()
	info := LockInfo{
		Host:        host,
		PID:         os.Getpid(),
		Started:     now.UTC(),
		Expires:     now.Add(o.ttl).UTC(),
		Operation:   o.operation,
		ToolVersion: version.Get().Version,
		Token:       rand.Text(),
	}
	key := lockKey(source)
	for attempt := 0; ; attempt++ {
		body, err := marshalJSON(info)
		if err != nil {
			return nil, err
		}
		err = r.CreateExclusive(ctx, key, body)
		if err == nil {
			l := &lock{r: r, key: key, ttl: o.ttl, now: o.now, rep: o.rep, info: info,
				stop: make(chan struct{}), done: make(chan struct{})}
			go l.renew()
			return l, nil
		}
		if !errors.Is(err, repo.ErrExists) {
			return nil, fmt.Errorf("taking the lock %s: %w", key, err)
		}
		holder, raw, err := readLock(ctx, r, key)
		if errors.Is(err, repo.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil && raw == nil {
			return nil, fmt.Errorf("reading the lock %s: %w", key, err)
		}
		reason := "its content is unreadable"
		if err == nil {
			reason = holder.staleReason(o.now(), host)
			if reason == "" || attempt >= 3 {
				return nil, &LockedError{Source: source, Holder: holder}
			}
		} else if attempt >= 3 {
			return nil, fmt.Errorf("taking the lock %s: %v", key, err)
		}
		// Delete only the lock we judged stale, not one taken meanwhile.
		_, again, rerr := readLock(ctx, r, key)
		if rerr != nil && again == nil {
			if errors.Is(rerr, repo.ErrNotFound) {
				continue
			}
			return nil, fmt.Errorf("reading the lock %s: %w", key, rerr)
		}
		if !bytes.Equal(again, raw) {
			continue
		}
		if err := r.Delete(ctx, key); err != nil && !errors.Is(err, repo.ErrNotFound) {
			return nil, fmt.Errorf("breaking the stale lock %s: %w", key, err)
		}
		if holder.Host == "" && holder.PID == 0 {
			o.rep.warn(fmt.Sprintf("broke the stale lock of source %q: %s", source, reason))
		} else {
			o.rep.warn(fmt.Sprintf("broke the stale lock of source %q held by %s on host %s (pid %d) since %s: %s",
				source, holder.Operation, holder.Host, holder.PID, holder.Started.UTC().Format(time.RFC3339), reason))
		}
	}
}

// readLock reads a lock object. raw is its content when it could be read,
// also when it does not parse.
func readLock(ctx context.Context, r repo.Repository, key string) (info LockInfo, raw []byte, err error) {
	rc, err := r.Get(ctx, key)
	if err != nil {
		return LockInfo{}, nil, err
	}
	defer rc.Close()
	raw, err = io.ReadAll(io.LimitReader(rc, 1<<16))
	if err != nil {
		return LockInfo{}, nil, err
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return LockInfo{}, raw, fmt.Errorf("lock %s is not valid JSON: %v", key, err)
	}
	return info, raw, nil
}

// ReadLock returns the holder of source's lock, or an error wrapping
// repo.ErrNotFound when the source is not locked.
func ReadLock(ctx context.Context, r repo.Repository, source string) (LockInfo, error) {
	if err := ValidateSourceName(source); err != nil {
		return LockInfo{}, err
	}
	info, _, err := readLock(ctx, r, lockKey(source))
	return info, err
}

// BreakLock removes source's lock whoever holds it, for an operator who
// knows the holder is gone, and returns what the lock said.
func BreakLock(ctx context.Context, r repo.Repository, source string) (LockInfo, error) {
	info, err := ReadLock(ctx, r, source)
	if err != nil && errors.Is(err, repo.ErrNotFound) {
		return LockInfo{}, err
	}
	if derr := r.Delete(ctx, lockKey(source)); derr != nil {
		return info, fmt.Errorf("removing the lock of %q: %w", source, derr)
	}
	return info, nil
}

// renew extends the lock every third of its TTL until release.
func (l *lock) renew() {
	defer close(l.done)
	t := time.NewTicker(max(l.ttl/3, time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		lost, err := l.extend(ctx)
		cancel()
		switch {
		case lost:
			l.rep.warn(fmt.Sprintf("the lock %s was taken by another run: %v", l.key, err))
			return
		case err != nil:
			l.rep.warn(fmt.Sprintf("renewing the lock %s (will retry): %v", l.key, err))
		}
	}
}

// extend rewrites the lock with a later expiry if it is still ours.
func (l *lock) extend(ctx context.Context) (lost bool, err error) {
	cur, _, err := readLock(ctx, l.r, l.key)
	if errors.Is(err, repo.ErrNotFound) {
		return true, errors.New("it is gone")
	}
	if err != nil {
		return false, err
	}
	if cur.Token != l.info.Token {
		return true, fmt.Errorf("held by host %s pid %d", cur.Host, cur.PID)
	}
	info := l.info
	info.Expires = l.now().Add(l.ttl).UTC()
	body, err := marshalJSON(info)
	if err != nil {
		return false, err
	}
	if _, err := l.r.Put(ctx, l.key, bytes.NewReader(body), repo.PutOptions{ContentType: "application/json"}); err != nil {
		return false, err
	}
	return false, nil
}

// release stops renewing and removes the lock if it is still ours. It runs
// after the operation's context may have ended, so it has its own deadline.
func (l *lock) release(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	cur, _, err := readLock(ctx, l.r, l.key)
	if errors.Is(err, repo.ErrNotFound) {
		return nil
	}
	if err == nil && cur.Token != l.info.Token {
		return nil // someone broke ours and holds their own
	}
	if err := l.r.Delete(ctx, l.key); err != nil && !errors.Is(err, repo.ErrNotFound) {
		return fmt.Errorf("releasing the lock %s: %w", l.key, err)
	}
	return nil
}
