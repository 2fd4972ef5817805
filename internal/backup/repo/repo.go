// Package repo is where backups live: a directory (file:///path) or an S3
// bucket and prefix (s3://bucket/prefix) behind one Repository interface.
//
// A Repository stores whole objects under slash-separated keys relative to its
// root. An object appears only when it is complete: an interrupted Put leaves
// no object behind, and at most a leftover (a temporary file, an unfinished
// multipart upload) that AbortIncomplete removes.
//
// Keys follow the same rules everywhere (see ValidKey), so a backup can move
// between repositories. Errors wrap sentinels a command maps to exit codes:
// ErrNotFound (10), ErrExists (11 for a lock), ErrDenied (4), ErrUnavailable
// (75, after the retries), ErrInvalidKey (a bug or a usage error); a cancelled
// context gives an error wrapping context.Canceled.
//
// S3 requests that fail with a transient error (5xx, throttling, 429, a reset
// or refused connection, a timeout) are retried by the SDK's standard retryer
// with exponential backoff and full jitter: MaxRetries+1 attempts, delays of
// of up to 2^n s, capped at MaxBackoff. With the defaults (6 attempts, 20 s
// cap) a dead endpoint is given up on after 50 s of backoff at most, about
// 35 s typically.
package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound reports that no object (or no bucket) exists under a key.
var ErrNotFound = errors.New("object not found")

// ErrExists reports that CreateExclusive found the key already taken.
var ErrExists = errors.New("object already exists")

// ErrUnavailable reports that the repository could not be reached, or kept
// answering with server errors or throttling until the retries ran out. It is
// a temporary failure: running again later may succeed.
var ErrUnavailable = errors.New("repository unavailable")

// ErrDenied reports that the repository refused the credentials or the access.
var ErrDenied = errors.New("access denied by the repository")

// ErrInvalidKey reports a key that is not a clean relative slash path.
var ErrInvalidKey = errors.New("invalid key")

// Object describes a stored object.
type Object struct {
	Key      string // relative to the repository root, slash-separated
	Size     int64
	Modified time.Time
}

// PutOptions tune one Put.
type PutOptions struct {
	// ContentType and Metadata are stored by S3 (Content-Type, x-amz-meta-*). A
	// file repository has nowhere to keep them and ignores them: anything the
	// caller must read back belongs in the object itself (the manifest).
	ContentType string
	Metadata    map[string]string
	// PartSize is the size of one multipart part for S3, 0 for DefaultPartSize.
	// It must be at least MinPartSize; at most MaxParts parts make one object,
	// so it bounds the object size (16 MiB: 156 GiB) as well as the memory a
	// Put holds: (Options.Concurrency+1) parts. File repositories do not use
	// it but check it alike, so that a mistake shows without S3.
	PartSize int64
}

// Part sizes and limits of S3 multipart uploads.
const (
	// DefaultPartSize is the part size when PutOptions.PartSize is 0.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's minimum for every part but the last.
	MinPartSize = 5 << 20
	// MaxPartSize is S3's maximum part size.
	MaxPartSize = 5 << 30
	// MaxParts is S3's maximum number of parts of one object.
	MaxParts = 10000
)

// DefaultConcurrency is how many parts a Put uploads at once by default.
const DefaultConcurrency = 2

// DefaultMaxRetries is how many times a failed S3 request is retried by default.
const DefaultMaxRetries = 5

// Repository stores backup objects. Implementations are safe for concurrent use.
type Repository interface {
	// Put streams r to key with bounded memory (it never reads r whole) and
	// returns the bytes written. The object appears only when complete: a file
	// is written to a temporary name, fsynced and renamed; S3 uses a multipart
	// upload, aborted on any error or cancellation of ctx so that nothing is
	// left. An existing object is replaced.
	Put(ctx context.Context, key string, r io.Reader, o PutOptions) (int64, error)
	// Get opens the object for reading; the caller closes it. ErrNotFound if
	// there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object. ErrNotFound if there is none.
	Stat(ctx context.Context, key string) (Object, error)
	// List returns the objects whose keys start with prefix (a plain string
	// prefix, not only whole directories), sorted by key, keys relative to the
	// repository root. Incomplete uploads are not listed.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// CreateExclusive writes a small object only if the key does not exist yet
	// (a lock); ErrExists if it does. Of concurrent callers exactly one wins.
	CreateExclusive(ctx context.Context, key string, body []byte) error
	// AbortIncomplete removes what interrupted uploads under prefix left behind
	// (S3: multipart uploads; files: temporary files) if they are older than
	// olderThan (0: all of them, including uploads still running), and returns
	// how many it removed.
	AbortIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
	// URL returns the repository URL, without credentials.
	URL() string
}

// Options configure how Open reaches a repository. File repositories use none.
type Options struct {
	// Region is the S3 region; empty: the AWS configuration's (AWS_REGION,
	// ~/.aws/config), or us-east-1 with a custom Endpoint.
	Region string
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// http://127.0.0.1:9000; empty: AWS.
	Endpoint string
	// PathStyle addresses buckets as http://host/bucket rather than
	// http://bucket.host; most S3-compatible servers need it.
	PathStyle bool
	// StorageClass of new objects, e.g. STANDARD_IA; empty: the bucket's default.
	StorageClass string
	// SSE asks for server-side encryption: "AES256" or "aws:kms" (with
	// SSEKMSKeyID, or the account's default KMS key).
	SSE         string
	SSEKMSKeyID string
	// AccessKeyID and SecretAccessKey (and an optional SessionToken) sign
	// requests; empty: the default AWS credential chain.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// MaxRetries is how often a request failing with a transient error (5xx,
	// throttling, a reset or refused connection, a timeout) is retried with
	// exponential backoff and jitter: 0 for DefaultMaxRetries, negative for none.
	MaxRetries int
	// MaxBackoff caps the delay between two attempts; 0: 20 s.
	MaxBackoff time.Duration
	// Concurrency is how many parts one Put uploads at once; 0 for
	// DefaultConcurrency.
	Concurrency int
	// HTTPClient replaces the HTTP client, for tests.
	HTTPClient *http.Client
}

// Open opens the repository at rawURL: "s3://bucket/prefix" or
// "file:///absolute/path". It does not contact the repository: the first
// operation reports whether it can be reached.
func Open(ctx context.Context, rawURL string, o Options) (Repository, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("repository URL %q: want s3://bucket/prefix or file:///absolute/path", redactURL(rawURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("repository URL %s: credentials do not belong in the URL; configure them as secrets", redactURL(rawURL))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("repository URL %s: query and fragment are not supported", redactURL(rawURL))
	}
	switch u.Scheme {
	case "file":
		return openFile(u)
	case "s3":
		return openS3(ctx, u, o)
	default:
		return nil, fmt.Errorf("repository URL %s: unsupported scheme %q: want s3://bucket/prefix or file:///absolute/path", redactURL(rawURL), u.Scheme)
	}
}

// redactURL returns rawURL without a password, for error messages.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not a URL: show nothing that might follow "user:" in it.
		if i := strings.LastIndex(rawURL, "@"); i >= 0 {
			return "…" + rawURL[i:]
		}
		return rawURL
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}

// Key rules, the same for every repository so that a backup can move between
// them: a key is a relative slash path whose segments are non-empty, not "."
// or "..", at most maxSegment bytes, and contain no backslash or control
// character. Segments starting with tempPrefix are reserved for temporary files.
const (
	maxKey     = 1024 // S3's limit
	maxSegment = 200  // leaves room for the temporary-file prefix in NAME_MAX (255)
	tempPrefix = ".tmp-"
)

// ValidKey reports whether key may name an object, and why not.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w %q: ends with a slash", ErrInvalidKey, key)
	}
	return validPath(key)
}

// validPrefix checks a List or AbortIncomplete prefix: "" or a key prefix, its
// last segment possibly partial or empty (a trailing slash).
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := prefix
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		if i == len(p)-1 {
			p = p[:i] // "a/b/": the directory a/b
		} else if last := p[i+1:]; last == "." || last == ".." {
			return fmt.Errorf("%w prefix %q: segment %q", ErrInvalidKey, prefix, last)
		}
	}
	if p == "" {
		return fmt.Errorf("%w prefix %q: absolute", ErrInvalidKey, prefix)
	}
	if err := validPath(p); err != nil {
		return fmt.Errorf("%w prefix %q", ErrInvalidKey, prefix)
	}
	return nil
}

func validPath(key string) error {
	if len(key) > maxKey {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKey)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w %q: not UTF-8", ErrInvalidKey, key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w %q: absolute", ErrInvalidKey, key)
	}
	for _, r := range key {
		if r == '\\' {
			return fmt.Errorf("%w %q: backslash", ErrInvalidKey, key)
		}
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w %q: control character", ErrInvalidKey, key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w %q: empty segment", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w %q: segment %q", ErrInvalidKey, key, seg)
		case len(seg) > maxSegment:
			return fmt.Errorf("%w %q: a segment is longer than %d bytes", ErrInvalidKey, key, maxSegment)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("%w %q: segments starting with %q are reserved", ErrInvalidKey, key, tempPrefix)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("%w %q: not a clean path", ErrInvalidKey, key)
	}
	return nil
}

// partSize returns the part size o asks for, checked the same way by every
// repository so that a pipeline tested on files works on S3.
func partSize(o PutOptions) (int64, error) {
	switch {
	case o.PartSize == 0:
		return DefaultPartSize, nil
	case o.PartSize < MinPartSize || o.PartSize > MaxPartSize:
		return 0, fmt.Errorf("part size %d: want %d MiB to %d GiB", o.PartSize, MinPartSize>>20, MaxPartSize>>30)
	}
	return o.PartSize, nil
}

// ctxReader stops reading once ctx is done, so a Put notices cancellation
// between reads even when the source never blocks.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
