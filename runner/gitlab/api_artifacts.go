package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hashicorp/go-retryablehttp"
)

// maxUploadRedirects bounds the 307/308 hops of an artifacts upload.
const maxUploadRedirects = 5

// ErrBodyNotRewindable is returned when an upload is redirected but its body
// is not an io.Seeker and cannot be sent again.
var ErrBodyNotRewindable = errors.New("gitlab: upload redirected but its body cannot be rewound")

// ArtifactUpload is one artifacts archive to upload.
type ArtifactUpload struct {
	// Name is the archive's file name in the multipart body
	// (default "artifacts.zip").
	Name string
	// Type is artifact_type (default "archive"), Format artifact_format
	// (default "zip"), ExpireIn expire_in (empty: the project default).
	Type, Format, ExpireIn string
	// Body is the archive. When it is an io.Seeker a 307/308 redirect can
	// resend it; otherwise a redirect fails with ErrBodyNotRewindable.
	Body io.Reader
}

// UploadArtifacts streams an archive: POST jobs/:id/artifacts, multipart
// field "file". It follows 307/308 redirects (sending JOB-TOKEN only to
// GitLab's own host). A 413 matches ErrTooLarge, a 403 ErrJobNotRunning.
// Uploads are not retried by the client.
func (c *Client) UploadArtifacts(ctx context.Context, jobID int64, jobToken string, up ArtifactUpload) error {
	if up.Body == nil {
		return errors.New("gitlab: ArtifactUpload.Body is nil")
	}
	if up.Name == "" {
		up.Name = "artifacts.zip"
	}
	if up.Type == "" {
		up.Type = "archive"
	}
	if up.Format == "" {
		up.Format = "zip"
	}
	q := url.Values{"artifact_format": {up.Format}, "artifact_type": {up.Type}}
	if up.ExpireIn != "" {
		q.Set("expire_in", up.ExpireIn)
	}
	target, err := url.Parse(c.url("jobs/"+strconv.FormatInt(jobID, 10)+"/artifacts", q))
	if err != nil {
		return fmt.Errorf("gitlab %s: %w", EndpointUploadArtifacts, err)
	}
	seeker, _ := up.Body.(io.Seeker)
	var start int64
	if seeker != nil {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	ctx = context.WithValue(ctx, endpointKey{}, EndpointUploadArtifacts)
	for hop := 0; ; hop++ {
		token := ""
		if target.Host == c.base.Host {
			token = jobToken
		}
		r, err := c.uploadOnce(ctx, target, token, up)
		if err != nil {
			return err
		}
		switch r.code {
		case http.StatusCreated, http.StatusOK:
			return nil
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := target.Parse(r.header.Get("Location"))
			switch {
			case err != nil || r.header.Get("Location") == "":
				return fmt.Errorf("gitlab %s: redirect without a valid Location", EndpointUploadArtifacts)
			case hop >= maxUploadRedirects:
				return fmt.Errorf("gitlab %s: stopped after %d redirects", EndpointUploadArtifacts, hop+1)
			case seeker == nil:
				return ErrBodyNotRewindable
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("gitlab %s: rewinding body: %w", EndpointUploadArtifacts, err)
			}
			target = loc
			continue
		}
		return c.statusError(EndpointUploadArtifacts, r)
	}
}

// uploadOnce streams one multipart POST and reads the (small) answer.
func (c *Client) uploadOnce(ctx context.Context, target *url.URL, jobToken string, up ArtifactUpload) (*apiResponse, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		part, err := mw.CreateFormFile("file", up.Name)
		if err == nil {
			_, err = io.Copy(part, up.Body)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer func() {
		pr.CloseWithError(errors.New("upload finished")) // unblocks the writer if the server answered early
		<-done
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), pr)
	if err != nil {
		return nil, fmt.Errorf("gitlab %s: %w", EndpointUploadArtifacts, err)
	}
	c.setHeaders(req.Header, "", jobToken)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.api.Do(req)
	if err != nil {
		return nil, &transportError{endpoint: EndpointUploadArtifacts, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, &transportError{endpoint: EndpointUploadArtifacts, err: err}
	}
	return &apiResponse{code: resp.StatusCode, header: resp.Header, body: body}, nil
}

// DownloadArtifacts streams a job's artifacts archive into w: GET
// jobs/:id/artifacts with token (the dependency's token) as JOB-TOKEN,
// following redirects (object storage gets no JOB-TOKEN). Errors: 404
// ErrNotFound, 403 ErrJobNotRunning/ErrForbidden.
func (c *Client) DownloadArtifacts(ctx context.Context, jobID int64, token string, w io.Writer) error {
	ctx = context.WithValue(ctx, endpointKey{}, EndpointDownloadArtifacts)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, c.url("jobs/"+strconv.FormatInt(jobID, 10)+"/artifacts", nil), nil)
	if err != nil {
		return fmt.Errorf("gitlab %s: %w", EndpointDownloadArtifacts, err)
	}
	c.setHeaders(req.Header, "", token)
	req.Header.Set("Accept", "*/*")
	resp, err := c.retrying(c.download, EndpointDownloadArtifacts, c.retryMax).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return &transportError{endpoint: EndpointDownloadArtifacts, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return c.statusError(EndpointDownloadArtifacts, &apiResponse{code: resp.StatusCode, header: resp.Header, body: body})
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("gitlab %s: copying archive: %w", EndpointDownloadArtifacts, err)
	}
	return nil
}
