package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Reader reads an object and, when the connection breaks mid-body, resumes
// where it stopped with a ranged GET of the same version (If-Match on the
// ETag): a restore of a large backup survives a network blip, as the upload
// does through the retries of each part.
type s3Reader struct {
	repo    *s3Repo
	ctx     context.Context
	key     string
	etag    string
	body    io.ReadCloser
	off     int64 // bytes delivered so far
	size    int64
	resumes int
}

func (g *s3Reader) Read(p []byte) (int, error) {
	for {
		n, err := g.body.Read(p)
		g.off += int64(n)
		if err == io.EOF && g.off < g.size {
			err = io.ErrUnexpectedEOF
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if !g.resumable(err) {
			return n, fmt.Errorf("get %s: %w", g.repo.where(g.key), err)
		}
		if rerr := g.resume(); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resumable reports a broken connection, not a checksum mismatch or the
// caller's cancellation, with resumes left.
func (g *s3Reader) resumable(err error) bool {
	if g.ctx.Err() != nil || g.etag == "" || g.resumes >= g.repo.maxRetries {
		return false
	}
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr)
}

func (g *s3Reader) resume() error {
	g.resumes++
	g.body.Close()
	g.body = io.NopCloser(eofReader{})
	out, err := g.repo.client.GetObject(g.ctx, &s3.GetObjectInput{
		Bucket:  &g.repo.bucket,
		Key:     aws.String(g.repo.prefix + g.key),
		Range:   aws.String("bytes=" + strconv.FormatInt(g.off, 10) + "-"),
		IfMatch: aws.String(g.etag),
	}, func(o *s3.Options) {
		// A full-object checksum cannot check a range.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if err != nil {
		if httpStatus(err) == 412 {
			return fmt.Errorf("get %s: the object changed while it was read", g.repo.where(g.key))
		}
		return g.repo.fail(g.ctx, "get", g.key, err)
	}
	g.body = out.Body
	return nil
}

func (g *s3Reader) Close() error { return g.body.Close() }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
