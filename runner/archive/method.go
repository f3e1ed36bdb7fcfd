package archive

import (
	"archive/zip"
	"math"
	"path"
	"strings"
)

// compressedExts are extensions of formats that are already compressed:
// deflating them again costs time and gains nothing.
var compressedExts = map[string]bool{
	".gz": true, ".tgz": true, ".bz2": true, ".xz": true, ".txz": true, ".zst": true, ".lz4": true, ".br": true,
	".zip": true, ".jar": true, ".war": true, ".whl": true, ".apk": true, ".nupkg": true, ".gem": true, ".crate": true,
	".7z": true, ".rar": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true,
	".mp3": true, ".mp4": true, ".webm": true, ".woff": true, ".woff2": true,
}

const (
	// sampleMin and sampleMax bound the prefix of a file that entropy is
	// measured on; shorter files are always deflated.
	sampleMin = 16 << 10
	sampleMax = 64 << 10
	// storeEntropy is the order-0 entropy (bits per byte) above which a
	// sample counts as incompressible: Huffman coding could save at most
	// (8-H)/8 of it, under 1.3%.
	storeEntropy = 7.9
)

// chooseMethod picks zip.Store for content that is already compressed (by
// name, or by the entropy of head, the file's first bytes) and zip.Deflate
// for everything else.
func chooseMethod(name string, head []byte) uint16 {
	if compressedExts[strings.ToLower(path.Ext(name))] {
		return zip.Store
	}
	if len(head) >= sampleMin && entropy(head[:min(len(head), sampleMax)]) > storeEntropy {
		return zip.Store
	}
	return zip.Deflate
}

// entropy returns the order-0 Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
