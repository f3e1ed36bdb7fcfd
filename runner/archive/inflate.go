package archive

import (
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// inflaters hands out DEFLATE readers for one extraction. klauspost's
// inflater is about a quarter faster than compress/flate's; readers are
// reused, since a new one costs tens of kilobytes and archives hold tens of
// thousands of small files.
type inflaters struct {
	pool sync.Pool
}

// decompressor is a zip.Decompressor backed by the pool.
func (p *inflaters) decompressor(r io.Reader) io.ReadCloser {
	if fr, ok := p.pool.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(r, nil); err == nil {
			return &pooledInflater{ReadCloser: fr, pool: &p.pool}
		}
	}
	return &pooledInflater{ReadCloser: flate.NewReader(r), pool: &p.pool}
}

// pooledInflater returns its reader to the pool when closed.
type pooledInflater struct {
	io.ReadCloser
	pool *sync.Pool
}

func (f *pooledInflater) Close() error {
	if f.ReadCloser == nil {
		return nil
	}
	err := f.ReadCloser.Close()
	f.pool.Put(f.ReadCloser)
	f.ReadCloser = nil
	return err
}
