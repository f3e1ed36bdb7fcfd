package gitlabtest

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
)

var artifactFormats = []string{"zip", "gzip", "raw"}

func (s *Server) handleUploadArtifacts(w http.ResponseWriter, r *http.Request) {
	id := infoOf(r).jobID
	q := r.URL.Query()
	format := q.Get("artifact_format")
	if format == "" {
		format = "zip"
	}
	typ := q.Get("artifact_type")
	if typ == "" {
		typ = "archive"
	}
	token := r.Header.Get("JOB-TOKEN")

	s.mu.Lock()
	j, ok := s.jobs[id]
	if !ok {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	setJobStatus(w, j)
	status, msg := s.checkUploadLocked(j, token, typ, format)
	s.mu.Unlock()
	if status != 0 {
		writeMessage(w, status, msg)
		return
	}

	upload, status, msg := readUpload(w, r, s.cfg.maxArtifactSize)
	if status != 0 {
		s.mu.Lock()
		j.event("artifact upload %s: %d %s", typ, status, msg)
		s.mu.Unlock()
		writeMessage(w, status, msg)
		return
	}
	upload.Type, upload.Format, upload.ExpireIn = typ, format, q.Get("expire_in")
	if format == "zip" {
		if _, err := zip.NewReader(bytes.NewReader(upload.Data), int64(len(upload.Data))); err != nil {
			s.mu.Lock()
			s.violateLocked("job %d: artifact %s is not a valid zip: %v", j.id, typ, err)
			s.mu.Unlock()
			writeMessage(w, http.StatusBadRequest, "400 Bad request - invalid zip archive")
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The job may have ended while the body was read.
	if status, msg := s.checkUploadLocked(j, token, typ, format); status != 0 {
		writeMessage(w, status, msg)
		return
	}
	j.uploads = append(j.uploads, upload)
	j.event("artifact %s (%s, %d bytes) uploaded", typ, format, len(upload.Data))
	writeJSON(w, http.StatusCreated, map[string]any{"id": j.id, "artifact_type": typ, "size": len(upload.Data)})
}

// checkUploadLocked validates an upload before and after its body is read.
func (s *Server) checkUploadLocked(j *job, token, typ, format string) (int, string) {
	switch {
	case j.token == "" || token != j.token:
		return http.StatusForbidden, "403 Forbidden - invalid job token"
	case !j.onRunner():
		return http.StatusForbidden, "403 Forbidden - Job is not running"
	case !slices.Contains(artifactFormats, format):
		s.violateLocked("job %d: artifact_format %q", j.id, format)
		return http.StatusBadRequest, "400 Bad request - artifact_format does not have a valid value"
	case typ == "archive" && format != "zip":
		s.violateLocked("job %d: archive artifact with format %q", j.id, format)
		return http.StatusBadRequest, "400 Bad request - archive artifacts must be zip"
	}
	if _, dup := j.artifact(typ); dup {
		s.violateLocked("job %d: second %s artifact upload", j.id, typ)
		return http.StatusBadRequest, "400 Bad request - Already uploaded"
	}
	return 0, ""
}

// readUpload reads the multipart field "file".
func readUpload(w http.ResponseWriter, r *http.Request, limit int64) (ArtifactUpload, int, string) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return ArtifactUpload{}, http.StatusBadRequest, "400 Bad request - " + err.Error()
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return ArtifactUpload{}, http.StatusBadRequest, "400 Bad request - file is missing"
		}
		if err != nil {
			return ArtifactUpload{}, uploadErrStatus(err), err.Error()
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return ArtifactUpload{}, uploadErrStatus(err), err.Error()
		}
		return ArtifactUpload{Filename: part.FileName(), Data: data}, 0, ""
	}
}

func uploadErrStatus(err error) int {
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func (s *Server) handleDownloadArtifacts(w http.ResponseWriter, r *http.Request) {
	id := infoOf(r).jobID
	token := r.Header.Get("JOB-TOKEN")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.jobs[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	setJobStatus(w, dep)
	caller := s.jobByTokenLocked(token)
	if caller == nil || !caller.onRunner() {
		writeMessage(w, http.StatusForbidden, "403 Forbidden - invalid job token")
		return
	}
	if !slices.Contains(caller.spec.Dependencies, id) {
		caller.event("download of artifacts of job %d, not a dependency: 403", id)
		s.violateLocked("job %d: downloaded artifacts of job %d, not a dependency", caller.id, id)
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	u, ok := dep.artifact("archive")
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	caller.event("downloaded artifacts of job %d", id)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="artifacts.zip"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(u.Data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(u.Data)
}
