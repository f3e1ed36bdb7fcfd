package gitlabtest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"testing"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (c *client) upload(id int64, token, query, field string, data []byte) int {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, "artifacts.zip")
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		c.t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		c.t.Fatal(err)
	}
	resp, _ := c.do("POST", fmt.Sprintf("jobs/%d/artifacts?%s", id, query), buf.Bytes(),
		"JOB-TOKEN", token, "Content-Type", mw.FormDataContentType())
	return resp.StatusCode
}

func TestArtifactsUploadAndDownload(t *testing.T) {
	srv, c := newFake(t)
	build := srv.Enqueue(JobSpec{Name: "build", Artifacts: []Artifact{{Paths: []string{"out"}}}})
	_, tok := c.take()
	c.put(build, map[string]any{"token": tok, "state": "running"})
	archive := zipOf(t, map[string]string{"out/bin": "binary"})
	const q = "artifact_format=zip&artifact_type=archive&expire_in=1+day"

	uploads := []struct {
		name  string
		token string
		query string
		field string
		data  []byte
		want  int
	}{
		{"bad token", "glcbt-wrong", q, "file", archive, http.StatusForbidden},
		{"wrong field", tok, q, "artifact", archive, http.StatusBadRequest},
		{"not a zip", tok, q, "file", []byte("nope"), http.StatusBadRequest},
		{"archive as gzip", tok, "artifact_format=gzip&artifact_type=archive", "file", archive, http.StatusBadRequest},
		{"ok", tok, q, "file", archive, http.StatusCreated},
		{"twice", tok, q, "file", archive, http.StatusBadRequest},
	}
	for _, u := range uploads {
		if got := c.upload(build, u.token, u.query, u.field, u.data); got != u.want {
			t.Errorf("upload %s: %d, want %d", u.name, got, u.want)
		}
	}
	c.put(build, finalBody(tok, "success", "", ""))
	if rec := srv.Job(build); !bytes.Equal(rec.Artifacts["archive"], archive) || rec.Uploads[0].ExpireIn != "1 day" {
		t.Fatalf("stored artifacts %+v", rec.Uploads)
	}

	test := srv.Enqueue(JobSpec{Name: "test", Dependencies: []int64{build}})
	other := srv.Enqueue(JobSpec{Name: "other"})
	_, job := c.request("")
	testTok := job["token"].(string)
	deps := job["dependencies"].([]any)
	if len(deps) != 1 || deps[0].(map[string]any)["artifacts_file"].(map[string]any)["size"].(float64) != float64(len(archive)) {
		t.Fatalf("dependencies %v", deps)
	}
	download := func(id int64, token string) (int, []byte) {
		resp, b := c.do("GET", fmt.Sprintf("jobs/%d/artifacts", id), nil, "JOB-TOKEN", token)
		return resp.StatusCode, b
	}
	if code, _ := download(build, testTok); code != http.StatusForbidden {
		t.Errorf("download before the job runs: %d", code)
	}
	c.put(test, map[string]any{"token": testTok, "state": "running"})
	if code, b := download(build, testTok); code != http.StatusOK || !bytes.Equal(b, archive) {
		t.Errorf("download: %d, %d bytes", code, len(b))
	}
	if code, _ := download(other, testTok); code != http.StatusForbidden {
		t.Errorf("download of a non-dependency: %d", code)
	}
	if code, _ := download(build, "glcbt-wrong"); code != http.StatusForbidden {
		t.Errorf("download with a bad token: %d", code)
	}
}

func TestDependencyThatFailedFailsJob(t *testing.T) {
	srv, c := newFake(t)
	build := srv.Enqueue(JobSpec{Name: "build"})
	_, tok := c.take()
	c.put(build, map[string]any{"token": tok, "state": "running"})
	c.put(build, finalBody(tok, "failed", "script_failure", ""))
	test := srv.Enqueue(JobSpec{Name: "test", Dependencies: []int64{build}})
	if resp, _ := c.request(""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if rec := srv.Job(test); rec.FailureReason != "missing_dependency_failure" {
		t.Errorf("record %+v", rec)
	}
}
