package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Region is versitygw's default region; clients must sign for the same one.
const s3Region = "us-east-1"

// S3Server is an S3-compatible server (versitygw on a local directory) with one
// root user. Clients must use path-style addressing.
type S3Server struct {
	endpoint  string
	accessKey string
	secretKey string
	client    *s3.Client
}

// S3 returns the package's shared S3 server, starting it on first use. Tests
// isolate themselves with NewBucket.
func S3(t testing.TB) *S3Server {
	t.Helper()
	requireMain(t)
	path := versitygwPath()
	if path == "" {
		missing(t, os.Getenv("CI"), "versitygw (the S3 server, built by go install)")
		return nil
	}
	began, started := time.Now(), false
	srv, err := shared.s3.get(func() (*S3Server, error) {
		started = true
		return startS3(path)
	})
	if err != nil {
		t.Fatalf("testenv: start S3 (versitygw): %v", err)
	}
	if started {
		logStart(t, "S3 (versitygw)", srv.endpoint, began)
	}
	return srv
}

// versitygwPath finds versitygw on PATH or where `go install` puts it, which
// is where scripts/install-test-deps.sh installs it. "" means nowhere.
func versitygwPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		if p := filepath.Join(dir, "versitygw"); isExecutable(p) {
			return p
		}
	}
	return ""
}

func startS3(path string) (*S3Server, error) {
	s, err := newServer("s3")
	if err != nil {
		return nil, err
	}
	srv, err := launchS3(s, path)
	if err != nil {
		s.close()
		return nil, err
	}
	return srv, nil
}

func launchS3(s *server, path string) (*S3Server, error) {
	root := filepath.Join(s.dir, "buckets")
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	srv := &S3Server{accessKey: randomHex(10), secretKey: randomHex(20)}
	ctx, cancel := startContext()
	defer cancel()
	return withFreePort(func(port int) (*S3Server, error) {
		endpoint := "http://" + hostPort(port)
		proc, err := startServer(ctx, command{
			name: "versitygw",
			path: path,
			args: []string{"--port", hostPort(port), "--quiet", "posix", root},
			// The environment keeps the keys out of ps output.
			env: []string{
				"ROOT_ACCESS_KEY_ID=" + srv.accessKey,
				"ROOT_SECRET_ACCESS_KEY=" + srv.secretKey,
			},
			dir: s.dir,
		}, func(ctx context.Context) error {
			// Any answer, even 403 to an anonymous request, means it serves.
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		})
		if err != nil {
			return nil, err
		}
		s.proc = proc
		srv.endpoint = endpoint
		srv.client = s3.New(s3.Options{
			Region:       s3Region,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider(srv.accessKey, srv.secretKey, ""),
			UsePathStyle: true, // bucket names do not resolve as host names here
		})
		return srv, nil
	})
}

// Endpoint returns the server's base URL, e.g. http://127.0.0.1:40123.
func (srv *S3Server) Endpoint() string { return srv.endpoint }

// AccessKey returns the root user's access key id.
func (srv *S3Server) AccessKey() string { return srv.accessKey }

// SecretKey returns the root user's secret access key.
func (srv *S3Server) SecretKey() string { return srv.secretKey }

// Region returns the region clients sign requests for.
func (srv *S3Server) Region() string { return s3Region }

// Client returns a client for the server, signed as the root user and using
// path-style addressing.
func (srv *S3Server) Client() *s3.Client { return srv.client }

// NewBucket creates an empty bucket for the test and returns its name; the
// bucket and what the test left in it are deleted when the test ends.
func (srv *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := uniqueName(t, '-', 63) // S3 bucket names: 3 to 63 of a-z, 0-9, '-'
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("testenv: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := srv.deleteBucket(name); err != nil {
			t.Errorf("testenv: delete bucket %s: %v", name, err)
		}
	})
	return name
}

// deleteBucket empties and deletes a bucket; one the test deleted itself is fine.
func (srv *S3Server) deleteBucket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var noBucket *types.NoSuchBucket
	uploads, err := srv.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(name)})
	if errors.As(err, &noBucket) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, u := range uploads.Uploads {
		if _, err := srv.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(name), Key: u.Key, UploadId: u.UploadId,
		}); err != nil {
			return err
		}
	}
	pages := s3.NewListObjectsV2Paginator(srv.client, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, obj := range page.Contents {
			if _, err := srv.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: obj.Key}); err != nil {
				return err
			}
		}
	}
	_, err = srv.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	return err
}
