package repo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/testenv"
)

// fastRetries keeps retry tests quick: the backoff is what they shorten, not
// the number of attempts.
const fastRetries = 10 * time.Millisecond

// s3Options returns options that reach the test server at endpoint.
func s3Options(srv *testenv.S3Server, endpoint string) repo.Options {
	return repo.Options{
		Region:          srv.Region(),
		Endpoint:        endpoint,
		PathStyle:       true,
		AccessKeyID:     srv.AccessKey(),
		SecretAccessKey: srv.SecretKey(),
		MaxBackoff:      fastRetries,
	}
}

// openS3Repo opens a repository in a new bucket, under a prefix so that the
// mapping of keys to object names is exercised too.
func openS3Repo(t *testing.T, o func(*repo.Options)) (repo.Repository, *testenv.S3Server, string) {
	t.Helper()
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	opts := s3Options(srv, srv.Endpoint())
	if o != nil {
		o(&opts)
	}
	r, err := repo.Open(t.Context(), "s3://"+bucket+"/backups/db", opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, srv, bucket
}

func TestS3(t *testing.T) {
	repotest.Run(t, func(t *testing.T) repo.Repository {
		r, _, _ := openS3Repo(t, nil)
		return r
	})
}

// TestS3BucketRoot: a repository without a prefix is the whole bucket.
func TestS3BucketRoot(t *testing.T) {
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	r, err := repo.Open(t.Context(), "s3://"+bucket, s3Options(srv, srv.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(t.Context(), "a/b", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("a/b")}); err != nil {
		t.Fatalf("the object is not at the bucket's root: %v", err)
	}
}

// TestS3Layout: keys live under the URL's prefix, with the given content type
// and metadata.
func TestS3Layout(t *testing.T) {
	r, srv, bucket := openS3Repo(t, nil)
	ctx := t.Context()
	for _, size := range []int{3, repo.MinPartSize + 3} {
		key := fmt.Sprintf("m/%d", size)
		_, err := r.Put(ctx, key, bytes.NewReader(make([]byte, size)), repo.PutOptions{
			ContentType: "application/vnd.repairx.backup", Metadata: map[string]string{"backup-id": "b1"}, PartSize: repo.MinPartSize,
		})
		if err != nil {
			t.Fatal(err)
		}
		head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("backups/db/" + key)})
		if err != nil {
			t.Fatalf("HeadObject under the prefix: %v", err)
		}
		if ct := aws.ToString(head.ContentType); ct != "application/vnd.repairx.backup" {
			t.Errorf("%d bytes: content type %q", size, ct)
		}
		if id := head.Metadata["backup-id"]; id != "b1" {
			t.Errorf("%d bytes: metadata %v", size, head.Metadata)
		}
	}
	// Objects outside the prefix are not the repository's.
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("backups/dbx"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	objs, err := r.List(ctx, "")
	if err != nil || len(objs) != 2 || objs[0].Key != "m/3" {
		t.Errorf("List = %v, %v; want the two objects under the prefix, keys relative to it", objs, err)
	}
}

// TestS3ConditionalPut records the finding the locks rest on: versitygw v1.8
// honours If-None-Match: * on PutObject (412 when the key exists), as AWS S3
// does, so CreateExclusive needs no fallback.
func TestS3ConditionalPut(t *testing.T) {
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()
	put := func() error {
		_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
			Bucket: &bucket, Key: aws.String("lock"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := put()
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("second conditional put: %v; want 412 Precondition Failed", err)
	}
}

// TestS3StorageClassAndSSE: every request that creates an object (PutObject,
// single and for CreateExclusive, and CreateMultipartUpload) asks for the
// storage class and server-side encryption given, and the server accepts
// them. The test server ignores both (its HEAD answers STANDARD and no SSE),
// so the requests themselves are checked, on their way through a proxy.
func TestS3StorageClassAndSSE(t *testing.T) {
	for _, o := range []repo.Options{
		{StorageClass: "STANDARD_IA"},
		{StorageClass: "GLACIER_IR"},
		{SSE: "AES256"},
		{SSE: "aws:kms", SSEKMSKeyID: "alias/backups"},
		{StorageClass: "STANDARD_IA", SSE: "AES256"},
	} {
		t.Run(o.StorageClass+"_"+o.SSE, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var creates []http.Header // the headers of each request that creates an object
			var createReqs []string
			r, _, srv, bucket := openProxied(t, func(_ int, req *http.Request) (int, string) {
				q := req.URL.Query()
				if (req.Method == http.MethodPut && !q.Has("partNumber")) || (req.Method == http.MethodPost && q.Has("uploads")) {
					mu.Lock()
					creates = append(creates, req.Header.Clone())
					createReqs = append(createReqs, req.Method+" "+req.URL.RequestURI())
					mu.Unlock()
				}
				return 0, ""
			}, func(opts *repo.Options) {
				opts.StorageClass, opts.SSE, opts.SSEKMSKeyID = o.StorageClass, o.SSE, o.SSEKMSKeyID
			})
			for _, size := range []int{10, repo.MinPartSize + 10} {
				key := fmt.Sprintf("obj-%d", size)
				if _, err := r.Put(t.Context(), key, bytes.NewReader(make([]byte, size)), repo.PutOptions{PartSize: repo.MinPartSize}); err != nil {
					t.Fatalf("Put of %d bytes: %v", size, err)
				}
				head, err := srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("p/" + key)})
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToInt64(head.ContentLength) != int64(size) {
					t.Errorf("%d bytes: the server holds %d", size, aws.ToInt64(head.ContentLength))
				}
			}
			if err := r.CreateExclusive(t.Context(), "lock", []byte("x")); err != nil {
				t.Fatalf("CreateExclusive: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			// PutObject, CreateMultipartUpload, PutObject (the lock).
			if len(creates) != 3 {
				t.Fatalf("%d requests created objects, want 3: %q", len(creates), createReqs)
			}
			for i, h := range creates {
				for name, want := range map[string]string{
					"X-Amz-Storage-Class":                         o.StorageClass,
					"X-Amz-Server-Side-Encryption":                o.SSE,
					"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": o.SSEKMSKeyID,
				} {
					if got := h.Get(name); got != want {
						t.Errorf("%s: %s = %q, want %q", createReqs[i], name, got, want)
					}
				}
			}
		})
	}
}

// TestS3NoMultipartLeft asks the server itself, not the repository, whether
// failed and cancelled uploads left multipart uploads behind.
func TestS3NoMultipartLeft(t *testing.T) {
	r, srv, bucket := openS3Repo(t, nil)
	ctx := t.Context()
	ctxCancel, cancel := context.WithCancel(ctx)
	defer cancel()
	src := &cancelAfter{r: zeros{}, at: 3*repo.MinPartSize + 5, cancel: cancel}
	if _, err := r.Put(ctxCancel, "cancelled", src, repo.PutOptions{PartSize: repo.MinPartSize}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v", err)
	}
	failing := io.MultiReader(io.LimitReader(zeros{}, 2*repo.MinPartSize+5), errReader{})
	if _, err := r.Put(ctx, "failed", failing, repo.PutOptions{PartSize: repo.MinPartSize}); !errors.Is(err, errBroken) {
		t.Fatalf("failing Put: %v", err)
	}
	uploads, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left on the server", len(uploads.Uploads))
	}
	objs, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil || len(objs.Contents) != 0 {
		t.Errorf("objects left on the server: %v, %v", objs.Contents, err)
	}
}

func TestS3Denied(t *testing.T) {
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	o := s3Options(srv, srv.Endpoint())
	o.SecretAccessKey = "wrong-" + srv.SecretKey()
	r, err := repo.Open(t.Context(), "s3://"+bucket, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Put(t.Context(), "x", strings.NewReader("x"), repo.PutOptions{})
	if !errors.Is(err, repo.ErrDenied) {
		t.Fatalf("Put with a wrong secret: %v, want ErrDenied", err)
	}
	if strings.Contains(err.Error(), o.SecretAccessKey) {
		t.Errorf("the error shows the secret: %v", err)
	}
	if _, err := r.List(t.Context(), ""); !errors.Is(err, repo.ErrDenied) {
		t.Errorf("List with a wrong secret: %v, want ErrDenied", err)
	}
}

func TestS3NoSuchBucket(t *testing.T) {
	srv := testenv.S3(t)
	r, err := repo.Open(t.Context(), "s3://no-such-bucket-here/p", s3Options(srv, srv.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := r.List(ctx, ""); !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("List: %v, want ErrNotFound naming the bucket", err)
	}
	if _, err := r.Put(ctx, "x", strings.NewReader("x"), repo.PutOptions{}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Put: %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, "x"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Delete: %v, want ErrNotFound", err)
	}
}

// faultProxy stands between the client and the S3 server and injects faults.
// It keeps the Host header, which the request signature covers.
type faultProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD /path?query", every request received
	// fail decides, for the n-th request (from 0), to answer with a status
	// and an S3 error code instead of forwarding; 0 forwards.
	fail func(n int, r *http.Request) (int, string)
	// cutGET cuts the body of the first GET answer after that many bytes.
	cutGET int64
	cut    bool
}

func newFaultProxy(t *testing.T, target string, fail func(int, *http.Request) (int, string)) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{fail: fail}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cutGET > 0 && !p.cut && resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
			p.cut = true
			resp.Body = &cutBody{ReadCloser: resp.Body, left: p.cutGET}
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		n := len(p.requests)
		p.requests = append(p.requests, r.Method+" "+r.URL.RequestURI())
		p.mu.Unlock()
		if p.fail != nil {
			if status, code := p.fail(n, r); status != 0 {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`, code)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// cutBody ends a response body early with an error, which makes the reverse
// proxy abort the connection mid-body.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("cut")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}

// openProxied opens a repository in a new bucket, reached through a proxy.
func openProxied(t *testing.T, fail func(int, *http.Request) (int, string), o func(*repo.Options)) (repo.Repository, *faultProxy, *testenv.S3Server, string) {
	t.Helper()
	srv := testenv.S3(t)
	bucket := srv.NewBucket(t)
	p := newFaultProxy(t, srv.Endpoint(), fail)
	opts := s3Options(srv, p.URL)
	if o != nil {
		o(&opts)
	}
	r, err := repo.Open(t.Context(), "s3://"+bucket+"/p", opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, p, srv, bucket
}

// TestS3RetriesSucceed: the first requests fail with 500 and 503 SlowDown;
// the retries get through, for every operation.
func TestS3RetriesSucceed(t *testing.T) {
	const failures = 3
	var mu sync.Mutex
	failed := map[string]int{} // per operation, so each one meets failures
	r, p, _, _ := openProxied(t, func(_ int, req *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		op := req.Method + " " + req.URL.Query().Get("partNumber") + req.URL.Query().Get("uploads") + req.URL.Query().Get("list-type")
		if failed[op] >= failures {
			return 0, ""
		}
		failed[op]++
		if failed[op]%2 == 0 {
			return http.StatusServiceUnavailable, "SlowDown"
		}
		return http.StatusInternalServerError, "InternalError"
	}, nil)
	ctx := t.Context()
	data := make([]byte, 2*repo.MinPartSize+100)
	_, _ = rand.Read(data)
	n, err := r.Put(ctx, "big", bytes.NewReader(data), repo.PutOptions{PartSize: repo.MinPartSize})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Put through failures = %d, %v", n, err)
	}
	if err := r.CreateExclusive(ctx, "lock", []byte("x")); err != nil {
		t.Fatalf("CreateExclusive through failures: %v", err)
	}
	if err := r.CreateExclusive(ctx, "lock", []byte("x")); !errors.Is(err, repo.ErrExists) {
		t.Fatalf("CreateExclusive again: %v, want ErrExists", err)
	}
	objs, err := r.List(ctx, "")
	if err != nil || len(objs) != 2 {
		t.Fatalf("List through failures = %v, %v", objs, err)
	}
	rc, err := r.Get(ctx, "big")
	if err != nil {
		t.Fatalf("Get through failures: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get through failures: %d bytes, %v", len(got), err)
	}
	if _, err := r.Stat(ctx, "big"); err != nil {
		t.Fatalf("Stat through failures: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	injected := 0
	for _, n := range failed {
		injected += n
	}
	t.Logf("%d requests, %d failures injected", len(p.log()), injected)
	if injected < 5*failures {
		t.Errorf("only %d failures injected: the test did not exercise the retries", injected)
	}
}

// TestS3AlwaysFailing: a server that keeps failing gives ErrUnavailable after
// exactly MaxRetries+1 attempts, and a Put leaves no multipart upload behind
// (the abort is let through: only the uploads fail).
func TestS3AlwaysFailing(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{{500, "InternalError"}, {503, "SlowDown"}, {429, "TooManyRequests"}, {502, "BadGateway"}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			const retries = 3
			r, p, srv, bucket := openProxied(t, func(_ int, req *http.Request) (int, string) {
				if req.Method == http.MethodPut || req.Method == http.MethodHead {
					return tc.status, tc.code
				}
				return 0, ""
			}, func(o *repo.Options) { o.MaxRetries = retries })
			ctx := t.Context()
			_, err := r.Stat(ctx, "x")
			if !errors.Is(err, repo.ErrUnavailable) {
				t.Fatalf("Stat: %v, want ErrUnavailable", err)
			}
			if got := len(p.log()); got != retries+1 {
				t.Errorf("Stat made %d attempts, want %d", got, retries+1)
			}
			if strings.Contains(err.Error(), srv.SecretKey()) {
				t.Errorf("the error shows the secret: %v", err)
			}
			t.Logf("Stat: %v", err)
			// Multipart: creating the upload works (POST), every part fails.
			_, err = r.Put(ctx, "x", io.LimitReader(zeros{}, 3*repo.MinPartSize), repo.PutOptions{PartSize: repo.MinPartSize})
			if !errors.Is(err, repo.ErrUnavailable) {
				t.Fatalf("Put: %v, want ErrUnavailable", err)
			}
			uploads, lerr := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
			if lerr != nil || len(uploads.Uploads) != 0 {
				t.Errorf("multipart uploads left after a failed Put: %v, %v", uploads, lerr)
			}
		})
	}
}

// TestS3FailsMidUpload: the server starts failing after the second part;
// the Put fails as unavailable and the multipart upload is aborted.
func TestS3FailsMidUpload(t *testing.T) {
	var mu sync.Mutex
	parts := 0
	r, p, srv, bucket := openProxied(t, func(_ int, req *http.Request) (int, string) {
		if req.URL.Query().Get("partNumber") == "" {
			return 0, ""
		}
		mu.Lock()
		defer mu.Unlock()
		parts++
		if parts > 2 {
			return http.StatusInternalServerError, "InternalError"
		}
		return 0, ""
	}, func(o *repo.Options) { o.MaxRetries = 2 })
	_, err := r.Put(t.Context(), "x", io.LimitReader(zeros{}, 8*repo.MinPartSize), repo.PutOptions{PartSize: repo.MinPartSize})
	if !errors.Is(err, repo.ErrUnavailable) {
		t.Fatalf("Put: %v, want ErrUnavailable", err)
	}
	uploads, err := srv.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(uploads.Uploads) != 0 {
		t.Errorf("multipart uploads left: %v, %v", uploads, err)
	}
	aborted := false
	for _, req := range p.log() {
		aborted = aborted || strings.HasPrefix(req, "DELETE ") && strings.Contains(req, "uploadId=")
	}
	if !aborted {
		t.Errorf("no AbortMultipartUpload among the requests: %q", p.log())
	}
}

// TestS3ClosedPort: nothing listens at the endpoint; the error is
// ErrUnavailable, quickly.
func TestS3ClosedPort(t *testing.T) {
	srv := testenv.S3(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	r, err := repo.Open(t.Context(), "s3://bucket/p", s3Options(srv, endpoint))
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = r.Put(t.Context(), "x", strings.NewReader("x"), repo.PutOptions{})
	took := time.Since(began)
	if !errors.Is(err, repo.ErrUnavailable) {
		t.Fatalf("Put to a closed port: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("the error does not say why: %v", err)
	}
	t.Logf("%v after %v", err, took)
	if took > 5*time.Second {
		t.Errorf("took %v to give up with %d retries of at most %v backoff", took, repo.DefaultMaxRetries, fastRetries)
	}
}

// TestS3GetResumes: the connection breaks in the middle of a download; Get
// resumes where it stopped and delivers the whole object.
func TestS3GetResumes(t *testing.T) {
	r, p, _, _ := openProxied(t, nil, nil)
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	if _, err := r.Put(t.Context(), "obj", bytes.NewReader(data), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.cutGET = 1 << 20
	p.mu.Unlock()
	rc, err := r.Get(t.Context(), "obj")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get across a broken connection: %d of %d bytes, %v", len(got), len(data), err)
	}
	gets := 0
	for _, req := range p.log() {
		if strings.HasPrefix(req, "GET /") && strings.Contains(req, "/obj") {
			gets++
		}
	}
	if gets != 2 {
		t.Errorf("%d GETs, want 2 (the cut one and the resumption): %q", gets, p.log())
	}
}

// TestS3GetChangedWhileReading: if the object is replaced while a broken
// download resumes, Get fails instead of splicing two versions.
func TestS3GetChangedWhileReading(t *testing.T) {
	r, p, _, _ := openProxied(t, nil, nil)
	ctx := t.Context()
	if _, err := r.Put(ctx, "obj", io.LimitReader(zeros{}, 3<<20), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.cutGET = 1 << 20
	p.mu.Unlock()
	rc, err := r.Get(ctx, "obj")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(ctx, "obj", strings.NewReader(strings.Repeat("new", 1<<20)), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("reading across a replacement: %v, want an error saying the object changed", err)
	}
}

var errBroken = errors.New("broken source")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// cancelAfter cancels once at bytes have been read and keeps yielding.
type cancelAfter struct {
	r      io.Reader
	read   int64
	at     int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.at {
		c.cancel()
	}
	return n, err
}

// countingTransport counts the requests of an HTTPClient override.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestS3HTTPClientOverride(t *testing.T) {
	tr := &countingTransport{}
	r, _, _ := openS3Repo(t, func(o *repo.Options) { o.HTTPClient = &http.Client{Transport: tr} })
	if _, err := r.Put(t.Context(), "x", strings.NewReader("x"), repo.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Stat(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.n != 2 {
		t.Errorf("the override carried %d requests, want 2", tr.n)
	}
}
