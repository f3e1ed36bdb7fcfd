package gitlabtest

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"slices"
)

// handleUploadArtifacts is POST jobs/:id/artifacts (multipart field "file").
func (s *Server) handleUploadArtifacts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, typ := q.Get("artifact_format"), q.Get("artifact_type")
	if format == "" || typ == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - artifact_format and artifact_type are required")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - file is missing")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, s.cfg.maxArtifactSize+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.runningJobLocked(w, r)
	if j == nil {
		return
	}
	if int64(len(data)) > s.cfg.maxArtifactSize {
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return
	}
	if format == "zip" {
		if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			s.violateLocked("job %d: artifact %s is not a valid zip: %v", j.id, typ, err)
			writeMessage(w, http.StatusBadRequest, "400 Bad request - invalid zip archive")
			return
		}
	}
	j.uploads = append(j.uploads, ArtifactUpload{Type: typ, Format: format, ExpireIn: q.Get("expire_in"), Filename: hdr.Filename, Data: data})
	j.event("artifacts %s uploaded (%d bytes)", typ, len(data))
	s.jobHeaders(w, j)
	writeJSON(w, http.StatusCreated, map[string]string{})
}

// handleDownloadArtifacts is GET jobs/:id/artifacts with the JOB-TOKEN of a
// running job that depends on :id.
func (s *Server) handleDownloadArtifacts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := infoOf(r).jobID
	dep := s.jobs[id]
	tok := r.Header.Get("JOB-TOKEN")
	consumerID, ok := s.jobTokens[tok]
	if !ok || tok == "" {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	consumer := s.jobs[consumerID]
	if !consumer.onRunner() || !slices.Contains(consumer.spec.Dependencies, id) {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	if dep == nil {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	u, ok := dep.artifact("archive")
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(u.Data)
}
