package certs

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often a Reloader looks at its files when
// CheckInterval is not set.
const DefaultCheckInterval = 2 * time.Second

// Reloader serves a certificate and key from files and picks up changes to
// them without a restart; see the package documentation. Its exported fields
// must be set before the Reloader is first used. It is safe for concurrent
// use.
type Reloader struct {
	// CheckInterval is the least time between two looks at the files during
	// handshakes; zero or less means DefaultCheckInterval.
	CheckInterval time.Duration

	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time

	// OnReload, if set, is called with the new fingerprint whenever a reload
	// puts a different certificate into service. Reloads are serialised, so
	// calls come in order; it runs on the handshake or Reload goroutine, must
	// return quickly and must not call Reload.
	OnReload func(fingerprint string)

	certFile, keyFile string
	logger            *slog.Logger
	stat              func(name string) (fs.FileInfo, error) // os.Stat; tests count calls

	current   atomic.Pointer[servedPair]
	lastCheck atomic.Pointer[time.Time]

	// mu serialises looks at the files; handshakes only try it.
	mu sync.Mutex
	// failed is the state of files that failed to load and have been
	// reported, so that they are neither retried nor logged again until
	// they change. Guarded by mu.
	failed pairStat
}

// servedPair is a loaded pair with what is needed to tell it from its
// successor.
type servedPair struct {
	cert        *tls.Certificate
	fingerprint string
	stat        pairStat
}

// fileStat is what decides whether a file has changed. statErr is set when
// the file could not be examined, so that a missing file is also a state.
type fileStat struct {
	modTime  int64
	size     int64
	dev, ino uint64
	statErr  string
}

type pairStat struct{ cert, key fileStat }

// NewReloader loads certFile and keyFile and returns a Reloader serving them,
// or an error wrapping ErrInvalidPair that names both files. A nil logger
// discards.
func NewReloader(certFile, keyFile string, logger *slog.Logger) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS certificate and key files must both be set")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, logger: logger, stat: os.Stat}
	st, err := r.statPair() // before reading, so that a later change is seen
	if err != nil {
		return nil, err
	}
	pair, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.current.Store(&servedPair{cert: pair, fingerprint: fingerprintDER(pair.Certificate[0]), stat: st})
	r.warnValidity(pair)
	return r, nil
}

// GetCertificate returns the certificate in service, first looking at the
// files if CheckInterval has passed since the last look. It has the signature
// of tls.Config.GetCertificate and never fails.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeCheck()
	return r.current.Load().cert, nil
}

// Current returns the certificate in service. It must not be modified.
func (r *Reloader) Current() *tls.Certificate { return r.current.Load().cert }

// Fingerprint returns the Fingerprint of the leaf certificate in service.
func (r *Reloader) Fingerprint() string { return r.current.Load().fingerprint }

// Reload loads the files now, whether or not they look changed, as on SIGHUP.
// On failure the previous certificate stays in service and the error is
// returned, not logged.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.lastCheck.Store(&now)
	st, err := r.statPair()
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		r.failed = st
	}
	return err
}

// maybeCheck looks at the files if the interval has passed. Only the
// handshake that wins the try-lock does; the others go on with the current
// certificate rather than wait.
func (r *Reloader) maybeCheck() {
	now := r.now()
	if !r.due(now) || !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	if !r.due(now) { // another handshake looked meanwhile
		return
	}
	r.lastCheck.Store(&now)

	st, statErr := r.statPair()
	if st == r.current.Load().stat || st == r.failed {
		return
	}
	err := statErr
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		r.failed = st
		r.logger.Warn("TLS certificate files changed but do not load; still serving the previous certificate",
			"error", err, "fingerprint", r.current.Load().fingerprint)
	}
}

// due reports whether a look at the files is due at now. A clock that went
// backwards makes it due, so that a stepped clock cannot stop the checks.
func (r *Reloader) due(now time.Time) bool {
	last := r.lastCheck.Load()
	if last == nil {
		return true
	}
	d := now.Sub(*last)
	return d < 0 || d >= r.interval()
}

// load puts the pair into service if it loads. Called with mu held.
func (r *Reloader) load(st pairStat) error {
	pair, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	next := &servedPair{cert: pair, fingerprint: fingerprintDER(pair.Certificate[0]), stat: st}
	prev := r.current.Swap(next)
	r.failed = pairStat{}
	if slices.EqualFunc(prev.cert.Certificate, pair.Certificate, bytes.Equal) {
		return nil // touched or rewritten with the same content
	}
	r.logger.Info("TLS certificate reloaded", "fingerprint", next.fingerprint,
		"previous_fingerprint", prev.fingerprint, "not_after", pair.Leaf.NotAfter)
	r.warnValidity(pair)
	if r.OnReload != nil {
		r.OnReload(next.fingerprint)
	}
	return nil
}

// warnValidity logs a certificate that is not valid now. It is served all the
// same: refusing it would leave nothing to serve.
func (r *Reloader) warnValidity(pair *tls.Certificate) {
	now := r.now()
	switch leaf := pair.Leaf; {
	case now.After(leaf.NotAfter):
		r.logger.Warn("TLS certificate has expired", "cert_file", r.certFile, "not_after", leaf.NotAfter)
	case now.Before(leaf.NotBefore):
		r.logger.Warn("TLS certificate is not valid yet", "cert_file", r.certFile, "not_before", leaf.NotBefore)
	}
}

// statPair examines both files, following symlinks. The state is complete
// even on error, so that a missing file is reported once.
func (r *Reloader) statPair() (pairStat, error) {
	cert, certErr := r.statFile(r.certFile)
	key, keyErr := r.statFile(r.keyFile)
	st := pairStat{cert: cert, key: key}
	if err := errors.Join(certErr, keyErr); err != nil {
		return st, fmt.Errorf("%w: %w", ErrInvalidPair, err)
	}
	return st, nil
}

func (r *Reloader) statFile(path string) (fileStat, error) {
	fi, err := r.stat(path)
	if err != nil {
		return fileStat{statErr: err.Error()}, err
	}
	dev, ino := fileID(fi)
	return fileStat{modTime: fi.ModTime().UnixNano(), size: fi.Size(), dev: dev, ino: ino}, nil
}

func (r *Reloader) interval() time.Duration {
	if r.CheckInterval <= 0 {
		return DefaultCheckInterval
	}
	return r.CheckInterval
}

func (r *Reloader) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}
