package backup

import "sync"

// Phase names what a long operation is doing when it reports progress.
type Phase string

// The phases reported to a Reporter.
const (
	PhaseBackup  Phase = "backup"  // reading the source and uploading (Run)
	PhaseVerify  Phase = "verify"  // downloading and checking (Verify, and Restore's pre-verification)
	PhaseRestore Phase = "restore" // downloading into the target (Restore, restore tests)
)

// Reporter receives progress and warnings from Run, Verify, Restore and
// Prune; the CLI draws a progress bar or logs them. Calls come from the
// operation's goroutines, one at a time, and must return quickly: throttle
// redraws in the Reporter, not here.
type Reporter interface {
	// Progress reports the plaintext bytes processed so far in a phase.
	// The total is the plaintext size when known (from a manifest), else 0.
	Progress(phase Phase, bytes, total int64)
	// Warning reports something the operator should know that did not stop
	// the operation (a stale lock broken, a socket skipped).
	Warning(msg string)
}

// NopReporter discards progress and warnings.
type NopReporter struct{}

// Progress does nothing.
func (NopReporter) Progress(Phase, int64, int64) {}

// Warning does nothing.
func (NopReporter) Warning(string) {}

// reporter serialises calls to a Reporter and keeps the warnings for the
// operation's result.
type reporter struct {
	mu       sync.Mutex
	r        Reporter
	warnings []string
}

func newReporter(r Reporter) *reporter {
	if r == nil {
		r = NopReporter{}
	}
	return &reporter{r: r}
}

func (r *reporter) progress(phase Phase, bytes, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.Progress(phase, bytes, total)
}

func (r *reporter) warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, msg)
	r.r.Warning(msg)
}

// list returns the warnings so far, [] when none.
func (r *reporter) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.warnings...)
}
