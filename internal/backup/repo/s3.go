package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// abortTimeout bounds the abort of a failed multipart upload, which runs
	// even when the caller's context is cancelled: that is when it matters most.
	abortTimeout = 2 * time.Minute
	// responseHeaderTimeout bounds the wait for an answer once a request is
	// sent, so a server that accepts and then hangs fails the attempt (which
	// is retried) instead of the 2 AM cron job.
	responseHeaderTimeout = 2 * time.Minute
	// defaultMaxBackoff is the SDK's own default.
	defaultMaxBackoff = 20 * time.Second
	// defaultRegion is used with a custom endpoint when nothing else names one;
	// S3-compatible servers commonly expect it.
	defaultRegion = "us-east-1"
	// conflictRetries bounds the retries of a conditional put that AWS answered
	// with 409 ConditionalRequestConflict (a concurrent conditional write).
	conflictRetries = 3
	// firstReadSize is read before a Put decides between one PutObject and a
	// multipart upload, so small objects (locks, manifests) cost no full part.
	firstReadSize = 64 << 10
)

// s3Repo keeps objects in a bucket under a key prefix.
type s3Repo struct {
	client       *s3.Client
	retryer      *retry.Standard
	bucket       string
	prefix       string // "" or ending in "/"
	url          string
	storageClass types.StorageClass
	sse          types.ServerSideEncryption
	sseKMSKeyID  string
	concurrency  int
	maxRetries   int
}

var (
	bucketName   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$`)
	storageClass = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

func openS3(ctx context.Context, u *url.URL, o Options) (*s3Repo, error) {
	bucket := u.Host
	if !bucketName.MatchString(bucket) {
		return nil, fmt.Errorf("repository URL %s: %q is not a bucket name: want s3://bucket/prefix", u.Redacted(), bucket)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := validPath(prefix); err != nil {
			return nil, fmt.Errorf("repository URL %s: prefix: %w", u.Redacted(), err)
		}
	}
	r := &s3Repo{bucket: bucket, url: "s3://" + bucket, concurrency: o.Concurrency, maxRetries: o.MaxRetries}
	if prefix != "" {
		r.prefix = prefix + "/"
		// Escaped, so that a prefix holding '%', '?' or '#' gives a URL that
		// opens this repository again.
		r.url = (&url.URL{Scheme: "s3", Host: bucket, Path: "/" + prefix}).String()
	}
	if r.concurrency <= 0 {
		r.concurrency = DefaultConcurrency
	}
	switch {
	case r.maxRetries == 0:
		r.maxRetries = DefaultMaxRetries
	case r.maxRetries < 0:
		r.maxRetries = 0
	}
	if o.StorageClass != "" {
		if !storageClass.MatchString(o.StorageClass) {
			return nil, fmt.Errorf("S3 storage class %q: want a class such as STANDARD or STANDARD_IA", o.StorageClass)
		}
		r.storageClass = types.StorageClass(o.StorageClass)
	}
	switch o.SSE {
	case "", string(types.ServerSideEncryptionAes256), string(types.ServerSideEncryptionAwsKms), string(types.ServerSideEncryptionAwsKmsDsse):
		r.sse = types.ServerSideEncryption(o.SSE)
	default:
		return nil, fmt.Errorf("S3 server-side encryption %q: want AES256, aws:kms or aws:kms:dsse", o.SSE)
	}
	if o.SSEKMSKeyID != "" && !strings.HasPrefix(o.SSE, "aws:kms") {
		return nil, errors.New("S3 server-side encryption: a KMS key id needs SSE aws:kms")
	}
	r.sseKMSKeyID = o.SSEKMSKeyID

	endpoint := ""
	if o.Endpoint != "" {
		e, err := url.Parse(o.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return nil, fmt.Errorf("S3 endpoint %q: want a URL such as https://s3.example.com:9000", redactURL(o.Endpoint))
		}
		if e.User != nil {
			return nil, fmt.Errorf("S3 endpoint %s: credentials do not belong in the URL", redactURL(o.Endpoint))
		}
		endpoint = strings.TrimSuffix(e.String(), "/")
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("S3 credentials: give both the access key id and the secret access key, or neither for the default AWS credential chain")
	}

	maxBackoff := o.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = defaultMaxBackoff
	}
	r.retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = r.maxRetries + 1
		so.MaxBackoff = maxBackoff
		// The client-wide retry quota would fail a long backup after a burst of
		// errors although every request still had attempts left.
		so.RateLimiter = ratelimit.None
		// 429 from S3-compatible servers that throttle without an error code.
		so.Retryables = append(so.Retryables, retry.RetryableHTTPStatusCode{Codes: map[int]struct{}{429: {}}})
	})
	var httpClient aws.HTTPClient
	if o.HTTPClient != nil {
		httpClient = o.HTTPClient
	} else {
		httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = responseHeaderTimeout
		})
	}

	var cfg aws.Config
	if o.AccessKeyID != "" {
		// Explicit credentials: the shared configuration files and environment
		// (a stale AWS_PROFILE) stay out of it.
		cfg = aws.Config{
			Region:      o.Region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)),
		}
	} else {
		var opts []func(*config.LoadOptions) error
		if o.Region != "" {
			opts = append(opts, config.WithRegion(o.Region))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("S3 credentials: load the AWS configuration: %w", err)
		}
	}
	cfg.HTTPClient = httpClient
	cfg.Retryer = func() aws.Retryer { return r.retryer }
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, errors.New("S3 region: none configured; set the region (or AWS_REGION)")
		}
		cfg.Region = defaultRegion
	}
	r.client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
	})
	return r, nil
}

func (r *s3Repo) URL() string { return r.url }

func (r *s3Repo) where(key string) string {
	if key == "" {
		return r.url
	}
	return r.url + "/" + key
}

func (r *s3Repo) Put(ctx context.Context, key string, src io.Reader, o PutOptions) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	partSize, err := partSize(o)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", r.where(key), err)
	}
	src = ctxReader{ctx, src}
	first, eof, err := readFirst(src, int(partSize))
	if err != nil {
		return 0, fmt.Errorf("put %s: read: %w", r.where(key), err)
	}
	if eof {
		return r.putSmall(ctx, key, first, o)
	}
	return r.putMultipart(ctx, key, first, src, o)
}

// readFirst reads up to size bytes, allocating a full part only once more
// than firstReadSize bytes turn up; eof reports that src ended within them.
func readFirst(src io.Reader, size int) (buf []byte, eof bool, err error) {
	buf = make([]byte, min(firstReadSize, size))
	n, err := io.ReadFull(src, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return buf[:n], true, nil
	}
	if err != nil || n == size {
		return buf[:n], false, err
	}
	full := make([]byte, size)
	copy(full, buf)
	m, err := io.ReadFull(src, full[n:])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return full[:n+m], true, nil
	}
	return full, false, err
}

func (r *s3Repo) putSmall(ctx context.Context, key string, body []byte, o PutOptions) (int64, error) {
	_, err := r.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               &r.bucket,
		Key:                  aws.String(r.prefix + key),
		Body:                 bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		ContentType:          optional(o.ContentType),
		Metadata:             o.Metadata,
		StorageClass:         r.storageClass,
		ServerSideEncryption: r.sse,
		SSEKMSKeyId:          optional(r.sseKMSKeyID),
	})
	if err != nil {
		return 0, r.fail(ctx, "put", key, err)
	}
	return int64(len(body)), nil
}

// part is one part of a multipart upload on its way to a worker.
type part struct {
	num int32
	buf []byte // a whole part buffer, returned to the pool after the upload
	n   int    // the bytes of buf that belong to the part
}

// putMultipart uploads first (a full part) and the rest of src as a multipart
// upload with r.concurrency parts in flight. Memory: at most
// r.concurrency+1 part buffers, reused. On any failure, and on cancellation
// of ctx, it waits for the part uploads to stop and aborts the upload with a
// context of its own, so no parts stay behind (and cost money).
func (r *s3Repo) putMultipart(ctx context.Context, key string, first []byte, src io.Reader, o PutOptions) (int64, error) {
	objKey := aws.String(r.prefix + key)
	created, err := r.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               &r.bucket,
		Key:                  objKey,
		ContentType:          optional(o.ContentType),
		Metadata:             o.Metadata,
		StorageClass:         r.storageClass,
		ServerSideEncryption: r.sse,
		SSEKMSKeyId:          optional(r.sseKMSKeyID),
		ChecksumAlgorithm:    types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return 0, r.fail(ctx, "put", key, err)
	}
	uploadID := created.UploadId

	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu        sync.Mutex
		completed []types.CompletedPart
		uploadErr error
	)
	jobs := make(chan part)
	nbuf := r.concurrency + 1
	free := make(chan []byte, nbuf)
	var workers sync.WaitGroup
	for range r.concurrency {
		workers.Go(func() {
			for p := range jobs {
				if uctx.Err() == nil {
					out, err := r.client.UploadPart(uctx, &s3.UploadPartInput{
						Bucket:            &r.bucket,
						Key:               objKey,
						UploadId:          uploadID,
						PartNumber:        aws.Int32(p.num),
						Body:              bytes.NewReader(p.buf[:p.n]),
						ContentLength:     aws.Int64(int64(p.n)),
						ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
					})
					mu.Lock()
					if err != nil && uploadErr == nil {
						uploadErr = err
						cancel(err)
					} else if err == nil {
						completed = append(completed, types.CompletedPart{
							PartNumber: aws.Int32(p.num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32,
						})
					}
					mu.Unlock()
				}
				free <- p.buf
			}
		})
	}

	total := int64(len(first))
	jobs <- part{num: 1, buf: first, n: len(first)}
	allocated := 1
	// Reading stops as soon as a part fails, not only when ctx ends.
	partSrc := ctxReader{uctx, src}
	var readErr error
	for num := int32(2); ; num++ {
		var buf []byte
		select {
		case buf = <-free:
		default:
			if allocated < nbuf {
				buf = make([]byte, len(first))
				allocated++
			} else {
				select {
				case buf = <-free:
				case <-uctx.Done():
				}
			}
		}
		if buf == nil {
			break // a part failed
		}
		n, err := io.ReadFull(partSrc, buf)
		if n > 0 && num > MaxParts {
			readErr = fmt.Errorf("the object exceeds %d parts of %d MiB: raise the part size", MaxParts, len(first)>>20)
			break
		}
		if n > 0 {
			total += int64(n)
			jobs <- part{num: num, buf: buf, n: n}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read: %w", err)
			break
		}
	}
	close(jobs)
	workers.Wait()

	// The workers are done: no lock needed. A failed part is the cause of a
	// read that stopped.
	err = uploadErr
	if err == nil {
		err = readErr
	}
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err == nil {
		slices.SortFunc(completed, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
		_, err = r.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &r.bucket,
			Key:             objKey,
			UploadId:        uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		})
		if err == nil {
			return total, nil
		}
	}
	fail := r.fail(ctx, "put", key, err)
	if aerr := r.abort(ctx, objKey, uploadID); aerr != nil {
		fail = errors.Join(fail, fmt.Errorf("abort multipart upload %s of %s: %w (AbortIncomplete removes it later)",
			*uploadID, r.where(key), r.fail(ctx, "abort", key, aerr)))
	}
	return 0, fail
}

// abort aborts a multipart upload even if ctx is cancelled.
func (r *s3Repo) abort(ctx context.Context, objKey, uploadID *string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := r.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &r.bucket, Key: objKey, UploadId: uploadID,
	})
	var gone *types.NoSuchUpload
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

func (r *s3Repo) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: aws.String(r.prefix + key)})
	if err != nil {
		return nil, r.fail(ctx, "get", key, err)
	}
	return &s3Reader{
		repo: r, ctx: ctx, key: key, body: out.Body,
		etag: aws.ToString(out.ETag), size: aws.ToInt64(out.ContentLength),
	}, nil
}

func (r *s3Repo) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidKey(key); err != nil {
		return Object{}, err
	}
	out, err := r.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.bucket, Key: aws.String(r.prefix + key)})
	if err != nil {
		return Object{}, r.fail(ctx, "stat", key, err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

func (r *s3Repo) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	objs := []Object{}
	pages := s3.NewListObjectsV2Paginator(r.client, &s3.ListObjectsV2Input{
		Bucket: &r.bucket, Prefix: aws.String(r.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, r.fail(ctx, "list", prefix, err)
		}
		for _, c := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(c.Key), r.prefix)
			if ValidKey(key) != nil {
				continue // a directory marker, or written by something else
			}
			objs = append(objs, Object{Key: key, Size: aws.ToInt64(c.Size), Modified: aws.ToTime(c.LastModified)})
		}
	}
	// S3 lists in UTF-8 binary order already; S3-compatible servers may not.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func (r *s3Repo) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	_, err := r.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.bucket, Key: aws.String(r.prefix + key)})
	if err != nil && !(isNotFound(err) && !isNoSuchBucket(err)) {
		return r.fail(ctx, "delete", key, err)
	}
	return nil
}

// CreateExclusive is a conditional PutObject (If-None-Match: *), which AWS S3
// (since 2024) and versitygw evaluate atomically: of concurrent writers one
// succeeds, the others get 412 Precondition Failed.
func (r *s3Repo) CreateExclusive(ctx context.Context, key string, body []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		_, err := r.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:               &r.bucket,
			Key:                  aws.String(r.prefix + key),
			Body:                 bytes.NewReader(body),
			ContentLength:        aws.Int64(int64(len(body))),
			IfNoneMatch:          aws.String("*"),
			StorageClass:         r.storageClass,
			ServerSideEncryption: r.sse,
			SSEKMSKeyId:          optional(r.sseKMSKeyID),
		})
		switch status, code := httpStatus(err), apiCode(err); {
		case err == nil:
			return nil
		case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
			return fmt.Errorf("create %s: %w", r.where(key), ErrExists)
		case (status == http.StatusConflict || code == "ConditionalRequestConflict") && attempt < conflictRetries:
			// AWS: another conditional write to the key is in flight; a retry
			// once it is done learns who won.
			select {
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			case <-ctx.Done():
				return r.fail(ctx, "create", key, ctx.Err())
			}
		default:
			return r.fail(ctx, "create", key, err)
		}
	}
}

func (r *s3Repo) AbortIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if err := validPrefix(prefix); err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	in := &s3.ListMultipartUploadsInput{Bucket: &r.bucket, Prefix: aws.String(r.prefix + prefix)}
	removed := 0
	for {
		page, err := r.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return removed, r.fail(ctx, "abort incomplete", prefix, err)
		}
		for _, u := range page.Uploads {
			if olderThan > 0 && aws.ToTime(u.Initiated).After(cutoff) {
				continue // probably still running
			}
			if err := r.abort(ctx, u.Key, u.UploadId); err != nil {
				return removed, r.fail(ctx, "abort incomplete", strings.TrimPrefix(aws.ToString(u.Key), r.prefix), err)
			}
			removed++
		}
		if !aws.ToBool(page.IsTruncated) || (page.NextKeyMarker == nil && page.NextUploadIdMarker == nil) {
			return removed, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
