package repo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// fail turns an SDK error into one of the package's errors, naming the
// operation and the object. The SDK's messages carry no credentials.
func (r *s3Repo) fail(ctx context.Context, op, key string, err error) error {
	where := r.where(key)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", op, where, context.Cause(ctx))
	case isNoSuchBucket(err):
		return fmt.Errorf("%s %s: bucket %q does not exist: %w", op, where, r.bucket, ErrNotFound)
	case isNotFound(err):
		return fmt.Errorf("%s %s: %w", op, where, ErrNotFound)
	case isDenied(err):
		return fmt.Errorf("%s %s: %w: %w", op, where, ErrDenied, err)
	case r.unavailable(err):
		return fmt.Errorf("%s %s: %w: %w", op, where, ErrUnavailable, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// unavailable reports an error that retrying later may cure: the retries ran
// out on a transient error, or the endpoint cannot be reached at all.
func (r *s3Repo) unavailable(err error) bool {
	var (
		exhausted *retry.MaxAttemptsError
		dnsErr    *net.DNSError
		opErr     *net.OpError
	)
	switch {
	case errors.As(err, &exhausted), errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case r.retryer.IsErrorRetryable(err): // with retries off, the first transient error
		return true
	}
	s := httpStatus(err)
	return s >= 500 && s != http.StatusNotImplemented
}

func isNoSuchBucket(err error) bool {
	var nb *types.NoSuchBucket
	return errors.As(err, &nb) || apiCode(err) == "NoSuchBucket"
}

func isNotFound(err error) bool {
	var (
		noKey    *types.NoSuchKey
		notFound *types.NotFound
	)
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound), isNoSuchBucket(err):
		return true
	}
	// HEAD answers carry no body, hence no error code.
	return httpStatus(err) == http.StatusNotFound
}

func isDenied(err error) bool {
	switch apiCode(err) {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		return true
	}
	s := httpStatus(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// httpStatus returns the status of the HTTP answer behind err, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// apiCode returns the S3 error code behind err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
