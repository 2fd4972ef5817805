package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/repairx/repairxctl/internal/backup/repo"
)

// DefaultCompressionLevel is the zstd level Run uses unless told otherwise.
const DefaultCompressionLevel = 3

// progressStep is how many plaintext bytes pass between progress reports.
const progressStep = 1 << 20

// copyBufferSize is the buffer between the source and zstd: two of its
// 128 KiB blocks.
const copyBufferSize = 256 << 10

// maxZstdWindow is the largest zstd window a backup is read with.
const maxZstdWindow = 8 << 20

// hashWriter passes writes to w, hashing and counting what w accepted.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashWriter(w io.Writer) *hashWriter { return &hashWriter{w: w, h: sha256.New()} }

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashWriter) sum() string { return hex.EncodeToString(hw.h.Sum(nil)) }

// hashReader hashes and counts what is read through it, and reports progress
// every progressStep bytes and at EOF.
type hashReader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	eof      bool
	err      error // the first error other than io.EOF
	progress func(int64)
	reported int64
}

func newHashReader(r io.Reader, progress func(int64)) *hashReader {
	return &hashReader{r: r, h: sha256.New(), progress: progress}
}

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if err == io.EOF {
		hr.eof = true
	} else if err != nil && hr.err == nil {
		hr.err = err
	}
	if hr.progress != nil && (hr.n-hr.reported >= progressStep || (err == io.EOF && hr.n != hr.reported)) {
		hr.reported = hr.n
		hr.progress(hr.n)
	}
	return n, err
}

func (hr *hashReader) sum() string { return hex.EncodeToString(hr.h.Sum(nil)) }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (cw *countWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

// encoded is what encode measured.
type encoded struct {
	plainSize, compressedSize, storedSize int64
	plainSum, storedSum                   string
}

// zstdEncoder returns a zstd writer for level with at most concurrency
// blocks in flight. Memory is bounded by the window (8 MiB at most for
// levels below best) times the blocks in flight, whatever the input size.
func zstdEncoder(w io.Writer, level, concurrency int) (*zstd.Encoder, error) {
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(concurrency),
		zstd.WithEncoderCRC(true),
	)
}

// defaultConcurrency is the zstd concurrency when none is given.
func defaultConcurrency() int { return min(4, runtime.GOMAXPROCS(0)) }

// sourceError marks a failure of the source (the dump), as opposed to one
// of the upload, when both end a run.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// encode streams src through SHA-256, zstd and age (when recipients are
// given) into dst, hashing what it writes. It reads src to io.EOF. A failure
// to read src is returned as a *sourceError; one to write dst as it is.
func encode(dst io.Writer, src io.Reader, recipients []age.Recipient, level, concurrency int, progress func(int64)) (encoded, error) {
	stored := newHashWriter(dst)
	var sealed io.WriteCloser = nopWriteCloser{stored}
	if len(recipients) > 0 {
		w, err := age.Encrypt(stored, recipients...)
		if err != nil {
			return encoded{}, fmt.Errorf("starting age encryption: %w", err)
		}
		sealed = w
	}
	compressed := &countWriter{w: sealed}
	zw, err := zstdEncoder(compressed, level, concurrency)
	if err != nil {
		return encoded{}, fmt.Errorf("starting zstd: %w", err)
	}
	plain := newHashReader(src, progress)
	// Through Write, not zstd.Encoder.ReadFrom: on a read error ReadFrom
	// records it while a block may still be in flight (a data race in
	// klauspost/compress v1.20.3); Write waits for the block first.
	if _, err := io.CopyBuffer(struct{ io.Writer }{zw}, plain, make([]byte, copyBufferSize)); err != nil {
		zw.Close()
		if plain.err != nil {
			return encoded{}, &sourceError{plain.err}
		}
		return encoded{}, err
	}
	if err := zw.Close(); err != nil {
		return encoded{}, err
	}
	if err := sealed.Close(); err != nil {
		return encoded{}, err
	}
	return encoded{
		plainSize:      plain.n,
		compressedSize: compressed.n,
		storedSize:     stored.n,
		plainSum:       plain.sum(),
		storedSum:      stored.sum(),
	}, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// trackReader remembers the first error of the object being downloaded, so
// that a network failure is reported as such and not as damaged data.
type trackReader struct {
	r   io.Reader
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// dataReader reads a backup's plaintext: download -> SHA-256 (stored) ->
// age decrypt -> zstd -> SHA-256 (plaintext). Reads return plaintext as soon
// as age has authenticated it (64 KiB chunks); finish checks the sizes and
// checksums against the manifest once everything has been read.
type dataReader struct {
	ctx    context.Context
	m      *Manifest
	key    string
	body   io.ReadCloser
	src    *trackReader
	stored *hashReader
	zr     *zstd.Decoder
	plain  *hashReader
}

// openData starts reading the data object of m. The object's size is
// checked first, so a truncated object fails before any download.
func openData(ctx context.Context, r repo.Repository, m *Manifest, ids []age.Identity, progress func(int64)) (*dataReader, error) {
	ref := m.Ref()
	if m.Encrypted() && len(ids) == 0 {
		return nil, fmt.Errorf("backup %s: %w (%s)", ref, ErrIdentityRequired, describeEncryption(m.Encryption))
	}
	key := m.dataKey()
	obj, err := r.Stat(ctx, key)
	if errors.Is(err, repo.ErrNotFound) {
		return nil, integrityf(ref, "its data object %s is missing", m.Data.Object)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", ref, err)
	}
	if obj.Size != m.Data.StoredSize {
		return nil, integrityf(ref, "the data object is %d bytes, the manifest says %d: it is truncated or was changed", obj.Size, m.Data.StoredSize)
	}
	body, err := r.Get(ctx, key)
	if errors.Is(err, repo.ErrNotFound) {
		return nil, integrityf(ref, "its data object %s is missing", m.Data.Object)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", ref, err)
	}
	d := &dataReader{ctx: ctx, m: m, key: key, body: body}
	d.src = &trackReader{r: body}
	d.stored = newHashReader(d.src, nil)
	var payload io.Reader = d.stored
	if m.Encrypted() {
		payload, err = age.Decrypt(d.stored, ids...)
		if err != nil {
			body.Close()
			var noMatch *age.NoIdentityMatchError
			if errors.As(err, &noMatch) {
				return nil, integrityf(ref, "wrong identity: none of the given identities decrypts it (%s)", describeEncryption(m.Encryption))
			}
			return nil, d.classify("reading the age header", err)
		}
	}
	// The window cap keeps a damaged or forged frame header from making
	// the decoder allocate up to 512 MiB: zstdEncoder never uses more
	// than 8 MiB (klauspost/compress's window at every level).
	d.zr, err = zstd.NewReader(payload, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	d.plain = newHashReader(d.zr, progress)
	return d, nil
}

// describeEncryption says who a backup is encrypted to, for error messages.
func describeEncryption(e EncryptionInfo) string {
	switch e.Mode {
	case EncryptionX25519:
		return "encrypted to " + strings.Join(e.Recipients, ", ")
	case EncryptionScrypt:
		return "encrypted with a passphrase"
	}
	return "not encrypted"
}

// classify turns a read failure into the error to report: the download's
// own error (a network failure, repo.ErrUnavailable) or the context's when
// there is one, ErrIntegrity otherwise.
func (d *dataReader) classify(what string, err error) error {
	ref := d.m.Ref()
	if d.src.err != nil {
		return fmt.Errorf("backup %s: downloading %s: %w", ref, d.m.Data.Object, d.src.err)
	}
	if cerr := d.ctx.Err(); cerr != nil {
		return fmt.Errorf("backup %s: %w", ref, cerr)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return integrityf(ref, "%s: the data ends early: it is truncated", what)
	}
	return integrityf(ref, "%s: %v", what, err)
}

// Read reads plaintext.
func (d *dataReader) Read(p []byte) (int, error) {
	n, err := d.plain.Read(p)
	if err != nil && err != io.EOF {
		return n, d.classify("decrypting and decompressing", err)
	}
	// A forged or damaged object could decompress without end (a zstd
	// bomb): stop as soon as it yields more than the manifest says, before
	// a restore writes it out.
	if d.plain.n > d.m.Data.PlaintextSize {
		return 0, integrityf(d.m.Ref(), "the plaintext is longer than the manifest's %d bytes", d.m.Data.PlaintextSize)
	}
	return n, err
}

// finish reads what is left, then checks sizes and checksums against the
// manifest: nil means every byte of the backup was read and matched.
func (d *dataReader) finish() error {
	if _, err := io.Copy(io.Discard, d); err != nil {
		return err
	}
	// The decoders stop at the end of their formats; anything after it
	// still counts towards the stored checksum.
	if _, err := io.Copy(io.Discard, d.stored); err != nil {
		return d.classify("reading the data object", err)
	}
	ref, data := d.m.Ref(), d.m.Data
	switch {
	case d.stored.n != data.StoredSize:
		return integrityf(ref, "read %d bytes of the data object, the manifest says %d: it is truncated or was changed", d.stored.n, data.StoredSize)
	case d.stored.sum() != data.SHA256Stored:
		return integrityf(ref, "the data object's SHA-256 is %s, the manifest says %s: the object was changed or damaged", d.stored.sum(), data.SHA256Stored)
	case d.plain.n != data.PlaintextSize:
		return integrityf(ref, "the plaintext is %d bytes, the manifest says %d", d.plain.n, data.PlaintextSize)
	case d.plain.sum() != data.SHA256Plaintext:
		return integrityf(ref, "the plaintext's SHA-256 is %s, the manifest says %s", d.plain.sum(), data.SHA256Plaintext)
	}
	return nil
}

// Close releases the download and the decoder.
func (d *dataReader) Close() error {
	d.zr.Close()
	return d.body.Close()
}

// readAll streams the whole backup into w and checks it; w's errors are
// returned as they are.
func readAll(ctx context.Context, r repo.Repository, m *Manifest, ids []age.Identity, w io.Writer, progress func(int64)) error {
	d, err := openData(ctx, r, m, ids, progress)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := io.Copy(w, d); err != nil {
		return err
	}
	return d.finish()
}
