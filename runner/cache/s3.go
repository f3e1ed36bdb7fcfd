package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Options configure an S3Store.
type S3Options struct {
	// Endpoint is an S3-compatible server (path-style addressing); nil
	// means AWS S3 in Region.
	Endpoint *url.URL
	Region   string
	Bucket   string
	// AccessKey and SecretKey sign requests; both empty means the AWS
	// default credential chain (environment, instance role).
	AccessKey, SecretKey string
	// Prefix is prepended to every object name (gitlab-runner's Path).
	Prefix string
	// Runner is the runner's short token, the runner segment of object
	// names; empty when the cache is shared between runners.
	Runner string
	// HTTPClient carries the requests; nil means a default client.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// S3Store keeps cache archives in an S3-compatible bucket with
// gitlab-runner's object layout, so a fleet can switch runners and keep
// its caches:
//
//	[<prefix>/][runner/<short token>/]project/<project id>/<key>
//
// The runner segment is left out when the cache is shared. <key> is
// SanitizeKey(Key.Name): the same as gitlab-runner's for every key
// without "/", "\" or control characters (gitlab-runner makes "a/b" a
// nested object; here it is the single object "a%2Fb", see Key.Path).
//
// The agent moves the bytes: credentials never leave it and jobs never
// talk to the bucket. A PUT replaces an object atomically, so concurrent
// readers see the old archive or the new one.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string
	runner string
	logger *slog.Logger
}

// NewS3Store returns a store for the bucket in opts. It does no I/O
// unless the default credential chain must be loaded.
func NewS3Store(ctx context.Context, opts S3Options) (*S3Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("cache: s3: empty bucket name")
	}
	if (opts.AccessKey == "") != (opts.SecretKey == "") {
		return nil, errors.New("cache: s3: access key and secret key go together")
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	var cfg aws.Config
	if opts.AccessKey != "" {
		cfg = aws.Config{
			Region:      region,
			Credentials: credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, ""),
		}
	} else {
		var err error
		cfg, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("cache: s3: credentials: %w", err)
		}
	}
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	// S3-compatible servers often lack the newer flexible checksums; ask
	// for them only where S3 requires them.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != nil {
			o.BaseEndpoint = aws.String(opts.Endpoint.String())
			o.UsePathStyle = true
		}
	})
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &S3Store{client: client, bucket: opts.Bucket, prefix: opts.Prefix, runner: opts.Runner, logger: logger}, nil
}

// ObjectName returns key's object name in the bucket.
func (s *S3Store) ObjectName(key Key) (string, error) {
	if key.ProjectID <= 0 {
		return "", fmt.Errorf("%w: the S3 layout needs the project ID", ErrInvalidKey)
	}
	name, err := SanitizeKey(key.Name)
	if err != nil {
		return "", err
	}
	runner := ""
	if s.runner != "" {
		runner = path.Join("runner", sanitizeSegment(s.runner))
	}
	return path.Join(s.prefix, runner, "project", strconv.FormatInt(key.ProjectID, 10), name), nil
}

// Get opens the archive stored under key. A missing object wraps ErrMiss.
func (s *S3Store) Get(ctx context.Context, key Key) (io.ReadCloser, int64, error) {
	name, err := s.ObjectName(key)
	if err != nil {
		return nil, 0, fmt.Errorf("cache: s3 get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
	if err != nil {
		if isS3NotFound(err) {
			return nil, 0, fmt.Errorf("cache: s3 get %s: %w", name, ErrMiss)
		}
		return nil, 0, fmt.Errorf("cache: s3 get %s: %w", name, err)
	}
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	return out.Body, size, nil
}

// Put uploads r as the archive for key in one PUT (up to S3's 5 GiB). A
// reader that cannot seek is spooled to a temporary file first: the
// request is signed over its length and hash.
func (s *S3Store) Put(ctx context.Context, key Key, r io.Reader) error {
	name, err := s.ObjectName(key)
	if err != nil {
		return fmt.Errorf("cache: s3 put: %w", err)
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		tmp, err := os.CreateTemp("", "runfleet-s3-*.zip")
		if err != nil {
			return fmt.Errorf("cache: s3 put: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := copyContext(ctx, tmp, r); err != nil {
			return fmt.Errorf("cache: s3 put %s: %w", name, err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("cache: s3 put: %w", err)
		}
		body = tmp
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("cache: s3 put: %w", err)
	}
	end, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("cache: s3 put: %w", err)
	}
	if _, err := body.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("cache: s3 put: %w", err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(name),
		Body:          body,
		ContentLength: aws.Int64(end - start),
		ContentType:   aws.String("application/zip"),
	})
	if err != nil {
		return fmt.Errorf("cache: s3 put %s: %w", name, err)
	}
	s.logger.DebugContext(ctx, "cache uploaded", "object", name, "bytes", end-start)
	return nil
}

// isS3NotFound reports whether err says the object (not the bucket) is
// missing: NoSuchKey from GET, or a bare 404.
func isS3NotFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchKey" {
		return true
	}
	var nf *types.NotFound
	return errors.As(err, &nf)
}

// ShortToken is gitlab-runner's short form of a runner token
// (helpers.ShortenToken), the runner segment of its S3 object names: 9
// characters after a glrt-, glrtr- or glcbt- prefix, the first 17 of a
// rotation-dated GR… token, else the first 8. S3Options.Runner must be
// this for caches to be shared with gitlab-runner.
func ShortToken(token string) string {
	switch {
	case len(token) < 8:
		return token
	case strings.HasPrefix(token, "glrt-") && len(token) >= 14:
		return token[5:14]
	case (strings.HasPrefix(token, "glrtr-") || strings.HasPrefix(token, "glcbt-")) && len(token) >= 15:
		return token[6:15]
	case strings.HasPrefix(token, "GR") && len(token) >= 17 && isHex(token[2:9]):
		return token[:17]
	default:
		return token[:8]
	}
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
