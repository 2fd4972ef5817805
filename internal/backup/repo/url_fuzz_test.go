package repo

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSecret stands for a password: FuzzOpen puts it where "PASSWORD" is.
const fuzzSecret = "hunter2secret"

// passwordPositions reports whether every occurrence of fuzzSecret in raw is
// in a password place: the userinfo of a URL that parses, or before the last
// '@' of one that does not (redactURL's promise).
func passwordOnly(raw string) bool {
	if u, err := url.Parse(raw); err == nil {
		p, _ := u.User.Password()
		rest := strings.Replace(raw, p, "", 1)
		return u.User != nil && strings.Contains(p, fuzzSecret) && !strings.Contains(rest, fuzzSecret)
	}
	at := strings.LastIndex(raw, "@")
	return at >= 0 && strings.LastIndex(raw, fuzzSecret)+len(fuzzSecret) <= at
}

// FuzzOpen feeds the repository URL parser what --repo and the config file
// can hold. A rejected URL gets an error that never shows a password; an
// accepted one has a canonical URL() without credentials, query or fragment
// that opens the same repository again.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{
		"file:///var/backups", "file:///var/backups/", "file://localhost/var/b", "file:///var/with%20space",
		"file:///var/%2e%2e/etc", "file:///var/a%2Fb", "file:///var/x%00y", "file://var/backups", "file:relative",
		"file:///var/../etc", "file:///", "file:////double", "file:///C:/x", "FILE:///Var",
		"s3://bucket", "s3://bucket/", "s3://bucket/some/prefix/", "s3://my.bucket-1/p", "s3://bucket//a//b",
		"s3://bucket/a%20b", "s3://bucket/a%25b", "s3://bucket/a%3Fb", "s3://bucket/a%23b", "s3://bucket/%E2%82%AC",
		"s3://bucket:9000/x", "s3://b/x", "s3://bucket/a/../b", "s3://bucket/x?region=eu", "s3://bucket/x#frag",
		"s3://AKID:PASSWORD@bucket/x", "s3://AKID:PASSWORD@bu%zzcket/x", "s3://AKID:PASS@WORD@bucket/x",
		"s3://:PASSWORD@bucket", "file://u:PASSWORD@localhost/x", "AKID:PASSWORD@bucket/x", "//u:PASSWORD@host/x",
		"s3://u:PASSWORD@[::1/x", "s3://bucket/.tmp-x", "s3://[::1]/x", "ftp://host/x", "", "/var/backups", "s3:bucket",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	opts := Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET"}
	f.Fuzz(func(t *testing.T, raw string) {
		raw = strings.ReplaceAll(raw, "PASSWORD", fuzzSecret)
		r, err := Open(ctx, raw, opts)
		if err != nil {
			if passwordOnly(raw) && strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("Open(%q): the error shows the password: %v", raw, err)
			}
			if !strings.Contains(err.Error(), "repository URL") {
				t.Fatalf("Open(%q): the error does not say what failed: %v", raw, err)
			}
			return
		}
		got := r.URL()
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Open(%q).URL() = %q, which does not parse: %v", raw, got, err)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (passwordOnly(raw) && strings.Contains(got, fuzzSecret)) {
			t.Fatalf("Open(%q).URL() = %q", raw, got)
		}
		in, _ := url.Parse(raw) // Open parsed it
		if u.Scheme != in.Scheme {
			t.Fatalf("Open(%q).URL() = %q: another scheme", raw, got)
		}
		switch u.Scheme {
		case "file":
			dir := r.(*fileRepo).dir
			if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || u.Path != filepath.ToSlash(dir) {
				t.Fatalf("Open(%q): directory %q, URL %q", raw, dir, got)
			}
			for seg := range strings.SplitSeq(dir, string(filepath.Separator)) {
				if seg == ".." {
					t.Fatalf("Open(%q): directory %q", raw, dir)
				}
			}
		case "s3":
			s := r.(*s3Repo)
			if s.bucket != in.Host || u.Host != s.bucket {
				t.Fatalf("Open(%q): bucket %q, URL %q", raw, s.bucket, got)
			}
			if want := strings.Trim(in.Path, "/"); strings.TrimSuffix(s.prefix, "/") != want || strings.Trim(u.Path, "/") != want {
				t.Fatalf("Open(%q): prefix %q, URL %q (path %q), want prefix %q", raw, s.prefix, got, u.Path, want)
			}
		default:
			t.Fatalf("Open(%q) accepted scheme %q", raw, u.Scheme)
		}
		again, err := Open(ctx, got, opts)
		if err != nil {
			t.Fatalf("Open(%q).URL() = %q, which does not open: %v", raw, got, err)
		}
		if again.URL() != got {
			t.Fatalf("Open(%q).URL() = %q, which opens as %q", raw, got, again.URL())
		}
	})
}

// FuzzValidKey checks the key and prefix rules every repository applies to
// what it is asked for (keys built from listed names, source names and ids):
// an accepted key is a clean relative path that stays inside a file
// repository, every accepted key is a valid List prefix, and a file
// repository answers an accepted key that is not there with ErrNotFound.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{
		"db/20261123T020000Z-k3fza2/manifest.json", "db/lock", "a", "a/b/", "/a", "a//b", "a/./b", "a/../b", "..",
		".", "a\\b", "a\x00b", "\xff", "a/.tmp-x", ".tmp-", "a/.tmp", strings.Repeat("x", 201), strings.Repeat("x/", 600),
		"link/secret", "link", "db/x", "db/x/", "db/.", "db/..", "db/.x", "é/ü",
	} {
		f.Add(s)
	}
	// A repository holding one object, beside a directory it must never
	// reach, with a symbolic link into it.
	base := f.TempDir()
	dir := filepath.Join(base, "repo")
	for name, body := range map[string]string{filepath.Join(dir, "db", "x"): "object", filepath.Join(base, "outside", "secret"): "secret"} {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(dir, "link")); err != nil {
		f.Fatal(err)
	}
	r, err := Open(context.Background(), "file://"+filepath.ToSlash(dir), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		ctx := context.Background()
		verr := ValidKey(key)
		if verr != nil && !errors.Is(verr, ErrInvalidKey) {
			t.Fatalf("ValidKey(%q) = %v, want ErrInvalidKey", key, verr)
		}
		if verr == nil {
			switch {
			case len(key) > maxKey || !utf8.ValidString(key) || path.IsAbs(key) || path.Clean(key) != key:
				t.Fatalf("ValidKey accepted %q", key)
			case strings.ContainsAny(key, "\\\x00\x7f") || !filepath.IsLocal(filepath.FromSlash(key)):
				t.Fatalf("ValidKey accepted %q", key)
			}
			for seg := range strings.SplitSeq(key, "/") {
				if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment || strings.HasPrefix(seg, tempPrefix) {
					t.Fatalf("ValidKey accepted %q (segment %q)", key, seg)
				}
			}
			for _, p := range []string{key, key + "/"} {
				if err := validPrefix(p); err != nil {
					t.Fatalf("the valid key %q is not a valid prefix as %q: %v", key, p, err)
				}
			}
		}
		if err := validPrefix(key); err == nil && key != "" {
			// The directory a file repository walks for the prefix.
			start := "."
			if i := strings.LastIndexByte(key, '/'); i >= 0 {
				start = key[:i]
			}
			if !filepath.IsLocal(filepath.FromSlash(start)) {
				t.Fatalf("validPrefix accepted %q, which walks %q", key, start)
			}
			if objs, err := r.List(ctx, key); err == nil {
				for _, o := range objs {
					if o.Key != "db/x" || !strings.HasPrefix(o.Key, key) {
						t.Fatalf("List(%q) listed %q", key, o.Key)
					}
				}
			}
		}

		rc, err := r.Get(ctx, key)
		switch {
		case verr != nil:
			if err == nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("Get(%q) = %v, want ErrInvalidKey (%v)", key, err, verr)
			}
		case err == nil:
			b, _ := io.ReadAll(rc)
			rc.Close()
			if key != "db/x" || string(b) != "object" {
				t.Fatalf("Get(%q) read %q", key, b)
			}
		case key == "db/x":
			t.Fatalf("Get(%q): %v", key, err)
		case !errors.Is(err, ErrNotFound) && !strings.HasPrefix(key, "link/") && key != "link":
			t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	})
}
