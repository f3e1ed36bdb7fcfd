package cache

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/runfleet/runfleet/runner/archive"
)

const (
	testAccessKey = "AKIARUNFLEETTEST"
	testSecretKey = "runfleet/secret+key"
	testBucket    = "runner-cache"
)

// fakeS3 is gofakes3 (an in-process S3 server) behind a strict check of
// AWS Signature Version 4, which gofakes3 does not verify: a request with
// another access key, a wrong signature or a body that does not match its
// signed hash gets S3's 403, as from the real service.
type fakeS3 struct {
	url     *url.URL
	backend *s3mem.Backend
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	faker := gofakes3.New(be, gofakes3.WithAutoBucket(false))
	srv := httptest.NewServer(sigV4Check(t, faker.Server()))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &fakeS3{url: u, backend: be}
}

func (f *fakeS3) store(t *testing.T, mod func(*S3Options)) *S3Store {
	t.Helper()
	opts := S3Options{Endpoint: f.url, Bucket: testBucket, AccessKey: testAccessKey, SecretKey: testSecretKey, Runner: "abcdefgh"}
	if mod != nil {
		mod(&opts)
	}
	s, err := NewS3Store(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// s3Error writes an S3 error document.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

// sigV4Check verifies each request's SigV4 Authorization header and its
// payload hash before passing it on.
func sigV4Check(t *testing.T, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		alg, rest, _ := strings.Cut(auth, " ")
		if alg != "AWS4-HMAC-SHA256" {
			s3Error(w, http.StatusForbidden, "AccessDenied", "missing or unsupported Authorization")
			return
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			fields[k] = v
		}
		scope := strings.Split(fields["Credential"], "/")
		if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" {
			s3Error(w, http.StatusBadRequest, "AuthorizationHeaderMalformed", "bad credential scope")
			return
		}
		if scope[0] != testAccessKey {
			s3Error(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		payload := r.Header.Get("X-Amz-Content-Sha256")
		if sum := sha256.Sum256(body); payload != hex.EncodeToString(sum[:]) {
			s3Error(w, http.StatusBadRequest, "XAmzContentSHA256Mismatch", "payload hash missing or wrong")
			return
		}
		signed := strings.Split(fields["SignedHeaders"], ";")
		if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
			s3Error(w, http.StatusForbidden, "AccessDenied", "host and x-amz-date must be signed")
			return
		}
		var canon strings.Builder
		canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + canonicalQuery(r.URL.Query()) + "\n")
		for _, h := range signed {
			v := strings.Join(r.Header.Values(h), ",")
			switch h {
			case "host":
				v = r.Host
			case "content-length":
				if v == "" {
					v = strconv.FormatInt(r.ContentLength, 10)
				}
			}
			canon.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
		}
		canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + payload)
		creq := sha256.Sum256([]byte(canon.String()))
		toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(creq[:])
		key := []byte("AWS4" + testSecretKey)
		for _, part := range scope[1:] {
			key = hmacSHA256(key, part)
		}
		if want := hex.EncodeToString(hmacSHA256(key, toSign)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
			s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery is SigV4's sorted, RFC 3986-encoded query string.
func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func TestS3ObjectName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   S3Options
		key    Key
		want   string
		errIs  error
		prefix string
	}{
		{"runner segment", S3Options{Runner: "abcdefgh"}, Key{ProjectID: 42, Name: "deps-protected"}, "runner/abcdefgh/project/42/deps-protected", nil, ""},
		{"shared", S3Options{}, Key{ProjectID: 42, Name: "deps"}, "project/42/deps", nil, ""},
		{"path prefix", S3Options{Prefix: "ci/cache", Runner: "abcdefgh"}, Key{ProjectID: 7, Name: "k"}, "ci/cache/runner/abcdefgh/project/7/k", nil, ""},
		{"slash in key stays in the project", S3Options{}, Key{ProjectID: 7, Name: "../../other/project/8/x"}, "project/7/..%2F..%2Fother%2Fproject%2F8%2Fx", nil, ""},
		{"no project id", S3Options{}, Key{Project: "g/p", Name: "k"}, "", ErrInvalidKey, ""},
		{"empty key", S3Options{}, Key{ProjectID: 1}, "", ErrInvalidKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Bucket, tc.opts.AccessKey, tc.opts.SecretKey = "b", "a", "s"
			s, err := NewS3Store(t.Context(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.ObjectName(tc.key)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("err = %v, want %v", err, tc.errIs)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ObjectName = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestS3StoreRoundTrip(t *testing.T) {
	f := newFakeS3(t)
	s := f.store(t, nil)
	ctx := t.Context()
	k := Key{Project: "group/app", ProjectID: 42, Name: "deps-protected"}

	_, _, err := s.Get(ctx, k)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrMiss) {
		t.Fatalf("Get before Put: %v, want a miss", err)
	}
	if err := s.Put(ctx, k, bytes.NewReader([]byte("archive-1"))); err != nil {
		t.Fatal(err)
	}
	// The object sits where gitlab-runner puts it.
	obj, err := f.backend.HeadObject(testBucket, "runner/abcdefgh/project/42/deps-protected")
	if err != nil || obj.Size != int64(len("archive-1")) {
		t.Fatalf("object at gitlab-runner's name: %+v, %v", obj, err)
	}
	rc, size, err := s.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "archive-1" || size != 9 {
		t.Errorf("Get = %q (size %d)", b, size)
	}
	// A reader that cannot seek is spooled and signed too.
	if err := s.Put(ctx, k, io.MultiReader(strings.NewReader("archive-"), strings.NewReader("2"))); err != nil {
		t.Fatal(err)
	}
	rc, _, err = s.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(rc)
	rc.Close()
	if string(b) != "archive-2" {
		t.Errorf("after overwrite: %q", b)
	}
	// Another runner (not shared) does not see this runner's cache.
	if _, _, err := f.store(t, func(o *S3Options) { o.Runner = "zzzzzzzz" }).Get(ctx, k); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("other runner's Get: %v, want a miss", err)
	}
}

func TestS3StoreFailuresAreNotMisses(t *testing.T) {
	f := newFakeS3(t)
	k := Key{ProjectID: 1, Name: "k"}
	for _, tc := range []struct {
		name string
		mod  func(*S3Options)
		code string
	}{
		{"wrong secret", func(o *S3Options) { o.SecretKey = "guess" }, "SignatureDoesNotMatch"},
		{"unknown access key", func(o *S3Options) { o.AccessKey = "AKIAOTHER" }, "InvalidAccessKeyId"},
		{"missing bucket", func(o *S3Options) { o.Bucket = "no-such-bucket" }, "NoSuchBucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := f.store(t, tc.mod)
			_, _, err := s.Get(t.Context(), k)
			if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("Get: %v; want a %s error that is not a miss", err, tc.code)
			}
			if err := s.Put(t.Context(), k, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("Put: %v; want %s", err, tc.code)
			}
		})
	}
}

func TestS3StoreSaveRestore(t *testing.T) {
	f := newFakeS3(t)
	s := f.store(t, func(o *S3Options) { o.Runner = "" }) // shared
	ctx := t.Context()
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "vendor", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "vendor", "lib", "a.txt"), []byte("cached\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := Key{Project: "g/p", ProjectID: 9, Name: "vendor"}
	if _, err := Save(ctx, s, k, src, archive.Selection{Paths: []string{"vendor/"}}); err != nil {
		t.Fatal(err)
	}
	hit, err := Restore(ctx, s, []Key{{ProjectID: 9, Name: "missing"}, k}, dst)
	if err != nil || hit != k {
		t.Fatalf("Restore: %+v, %v", hit, err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "vendor", "lib", "a.txt"))
	if err != nil || string(b) != "cached\n" {
		t.Errorf("restored %q, %v", b, err)
	}
}

// TestS3StoreConcurrentPutGet: readers of a key being rewritten see one
// complete version or a miss, never a mix.
func TestS3StoreConcurrentPutGet(t *testing.T) {
	f := newFakeS3(t)
	s := f.store(t, nil)
	ctx := context.Background()
	k := Key{ProjectID: 3, Name: "hot"}
	versions := make([][]byte, 4)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range versions {
		wg.Go(func() {
			for range 3 {
				if err := s.Put(ctx, k, bytes.NewReader(versions[i])); err != nil {
					errs <- err
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 6 {
				rc, _, err := s.Get(ctx, k)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err == nil && !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, b) }) {
					err = fmt.Errorf("read %d bytes matching no written version", len(b))
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	waitAll(t, &wg, "the concurrent Puts and Gets on the fake S3")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestShortTokenMatchesGitLabRunner(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"glrt-t1_AbCdEfGhIjKl", "t1_AbCdEf"},
		{"glrtr-abcdefghijklm", "abcdefghi"},
		{"glcbt-abcdefghijklm", "abcdefghi"},
		{"GR1348941abcdefghijklmn", "GR1348941abcdefgh"},
		{"GRnothexabcdefghijk", "GRnothex"},
		{"0123456789abcdef", "01234567"},
		{"short", "short"},
	} {
		if got := ShortToken(tc.token); got != tc.want {
			t.Errorf("ShortToken(%q) = %q, want %q", tc.token, got, tc.want)
		}
	}
}
