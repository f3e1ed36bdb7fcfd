package helperimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// imageConfig is the helper image's configuration, the same on every
// engine (and as images/git-helper/Dockerfile gives it).
type imageConfig struct {
	Env    []string
	Cmd    []string
	Labels map[string]string
}

func helperConfig() imageConfig {
	return imageConfig{
		Env:    []string{"PATH=/usr/bin:/bin"},
		Cmd:    []string{"/bin/sh"},
		Labels: map[string]string{"dev.runfleet.image": "git-helper"},
	}
}

// dockerChanges is c as docker import's Dockerfile instructions.
func (c imageConfig) dockerChanges() ([]string, error) {
	var changes []string
	for _, e := range c.Env {
		changes = append(changes, "ENV "+e)
	}
	cmd, err := json.Marshal(c.Cmd)
	if err != nil {
		return nil, err
	}
	changes = append(changes, "CMD "+string(cmd))
	for k, v := range c.Labels {
		changes = append(changes, "LABEL "+k+"="+v)
	}
	return changes, nil
}

// writeOCIArchive writes an OCI image layout archive of one image named
// name whose one layer is the uncompressed root filesystem tar layer.
func writeOCIArchive(w io.Writer, name string, layer []byte, c imageConfig) error {
	ref, err := reference.ParseDockerRef(name)
	if err != nil {
		return fmt.Errorf("helperimage: image name %q: %w", name, err)
	}
	layerDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(layer), Size: int64(len(layer))}
	created := time.Unix(0, 0).UTC()
	cfg, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Env: c.Env, Cmd: c.Cmd, Labels: c.Labels},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	})
	if err != nil {
		return err
	}
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	tag := "latest"
	if t, ok := ref.(reference.Tagged); ok {
		tag = t.Tag()
	}
	manDesc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest)),
		Annotations: map[string]string{
			"io.containerd.image.name": ref.String(),
			ocispec.AnnotationRefName:  tag,
		},
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manDesc},
	})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`)},
		{"index.json", index},
		{blobPath(cfgDesc.Digest), cfg},
		{blobPath(manDesc.Digest), manifest},
		{blobPath(layerDesc.Digest), layer},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: created}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data)), ModTime: created}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string {
	return "blobs/" + strings.Replace(d.String(), ":", "/", 1)
}
