package repo

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestRetryOptions: MaxRetries and MaxBackoff reach the SDK's retryer, and
// the retry budget of the defaults stays what Options documents.
func TestRetryOptions(t *testing.T) {
	u, _ := url.Parse("s3://bucket/p")
	for _, tc := range []struct {
		retries, attempts int
		backoff, cap      time.Duration
	}{
		{0, DefaultMaxRetries + 1, 0, defaultMaxBackoff},
		{2, 3, time.Second, time.Second},
		{-1, 1, 0, defaultMaxBackoff},
	} {
		r, err := openS3(context.Background(), u, Options{Region: "x", AccessKeyID: "a", SecretAccessKey: "b", MaxRetries: tc.retries, MaxBackoff: tc.backoff})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.retryer.MaxAttempts(); got != tc.attempts {
			t.Errorf("MaxRetries %d: %d attempts, want %d", tc.retries, got, tc.attempts)
		}
		var worst time.Duration
		for attempt := 1; attempt < tc.attempts; attempt++ {
			d, err := r.retryer.RetryDelay(attempt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d > tc.cap {
				t.Errorf("MaxRetries %d: delay %v before attempt %d exceeds the cap %v", tc.retries, d, attempt+1, tc.cap)
			}
			worst += tc.cap
		}
		if tc.retries == 0 && worst > 2*time.Minute {
			t.Errorf("the default retry budget is up to %v", worst)
		}
	}
}

// TestClassify: which server answers count as unavailable, denied, not found.
func TestClassify(t *testing.T) {
	u, _ := url.Parse("s3://bucket/p")
	r, err := openS3(context.Background(), u, Options{Region: "x", AccessKeyID: "a", SecretAccessKey: "b", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(status int, code string) error {
		return &smithy.OperationError{ServiceID: "S3", OperationName: "X", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code},
		}}
	}
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{500, "InternalError", ErrUnavailable},
		{503, "SlowDown", ErrUnavailable},
		{429, "", ErrUnavailable},
		{504, "", ErrUnavailable},
		{403, "AccessDenied", ErrDenied},
		{403, "SignatureDoesNotMatch", ErrDenied},
		{400, "InvalidAccessKeyId", ErrDenied},
		{404, "NoSuchKey", ErrNotFound},
		{404, "", ErrNotFound},
		{404, "NoSuchBucket", ErrNotFound},
		{501, "NotImplemented", nil},
		{400, "InvalidArgument", nil},
	} {
		err := r.fail(context.Background(), "op", "k", answer(tc.status, tc.code))
		for _, sentinel := range []error{ErrUnavailable, ErrDenied, ErrNotFound} {
			if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
				t.Errorf("%d %s: %v; is %v = %v", tc.status, tc.code, err, sentinel, got)
			}
		}
	}
}
