package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// packMax is the largest regular file that workers read and compress
// ahead of the zip writer; larger files are streamed by the writer itself,
// so memory stays bounded by the window times packMax.
const packMax = 1 << 20

// packed is a small regular file read and, unless stored, compressed by a
// worker: what the zip writer needs to add it without further work.
type packed struct {
	info   fs.FileInfo // of the open file
	method uint16
	raw    []byte        // the file's content
	rawBuf *[]byte       // pooled buffer raw lives in
	comp   *bytes.Buffer // deflated content when method is Deflate
	warn   string        // set when the file is skipped
	stream bool          // grew past packMax: the writer streams it
	err    error
}

// packer reads and compresses small files on a few goroutines, in
// parallel with the writer, which takes the results in archive order.
type packer struct {
	rt      *os.Root
	entries map[string]fs.FileInfo
	names   []string
	slots   []chan *packed // per name; nil for entries the writer handles
	bufs    sync.Pool      // *bytes.Buffer for compressed bodies
	raws    sync.Pool      // *[]byte of packMax+1 bytes for contents
	window  chan struct{}  // bounds results waiting for the writer
	wg      sync.WaitGroup
}

// isPackable reports whether a collected entry is a small regular file.
func isPackable(info fs.FileInfo) bool {
	return info.Mode().IsRegular() && info.Size() <= packMax
}

// startPacker starts reading and compressing the packable entries of names
// ahead of the writer. Cancelling ctx stops it; the caller must call wait
// before returning.
func startPacker(ctx context.Context, rt *os.Root, names []string, entries map[string]fs.FileInfo) *packer {
	workers := min(max(runtime.GOMAXPROCS(0), 1), 8)
	p := &packer{
		rt: rt, entries: entries, names: names,
		slots:  make([]chan *packed, len(names)),
		window: make(chan struct{}, 4*workers),
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
		raws:   sync.Pool{New: func() any { b := make([]byte, packMax+1); return &b }},
	}
	for i, name := range names {
		if isPackable(entries[name]) {
			p.slots[i] = make(chan *packed, 1)
		}
	}
	jobs := make(chan int)
	p.wg.Go(func() {
		defer close(jobs)
		for i, slot := range p.slots {
			if slot == nil {
				continue
			}
			select {
			case p.window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		p.wg.Go(func() {
			var fw *flate.Writer
			for i := range jobs {
				p.slots[i] <- p.pack(ctx, p.names[i], &fw)
			}
		})
	}
	return p
}

// next returns the packed file for entry i, waiting for it.
func (p *packer) next(ctx context.Context, i int) (*packed, error) {
	select {
	case r := <-p.slots[i]:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// done releases what r holds and makes room for another file.
func (p *packer) done(r *packed) {
	if r.rawBuf != nil {
		p.raws.Put(r.rawBuf)
	}
	if r.comp != nil {
		r.comp.Reset()
		p.bufs.Put(r.comp)
	}
	<-p.window
}

// wait stops the packer; ctx must have been cancelled or every slot taken.
func (p *packer) wait() { p.wg.Wait() }

// pack reads one file through the root, checked to be the very file that
// was listed (as writeFile does), and compresses it unless storing is
// better.
func (p *packer) pack(ctx context.Context, name string, fw **flate.Writer) *packed {
	if err := ctx.Err(); err != nil {
		return &packed{err: err}
	}
	f, err := p.rt.Open(name)
	if err != nil {
		return &packed{warn: fmt.Sprintf("%s: %v", name, err)}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return &packed{err: err}
	}
	if !info.Mode().IsRegular() || !os.SameFile(info, p.entries[name]) {
		return &packed{warn: fmt.Sprintf("%s: changed while archiving, skipped", name)}
	}
	// One byte more than the limit tells a file that grew since listing.
	rb := p.raws.Get().(*[]byte)
	n, err := io.ReadFull(f, *rb)
	switch {
	case err == nil:
		p.raws.Put(rb)
		return &packed{stream: true}
	case err == io.EOF, err == io.ErrUnexpectedEOF:
	default:
		p.raws.Put(rb)
		return &packed{err: err}
	}
	raw := (*rb)[:n]
	err = nil
	r := &packed{info: info, raw: raw, rawBuf: rb, method: chooseMethod(name, raw)}
	if r.method == zip.Store || len(raw) == 0 {
		return r
	}
	buf := p.bufs.Get().(*bytes.Buffer)
	if *fw == nil {
		*fw, err = flate.NewWriter(buf, flate.BestSpeed)
	} else {
		(*fw).Reset(buf)
	}
	if err == nil {
		_, err = (*fw).Write(raw)
	}
	if err == nil {
		err = (*fw).Close()
	}
	if err != nil {
		p.bufs.Put(buf)
		return &packed{err: err}
	}
	if buf.Len() >= len(raw) {
		// Deflate did not help: store the file instead.
		buf.Reset()
		p.bufs.Put(buf)
		r.method = zip.Store
		return r
	}
	r.comp = buf
	return r
}

// replay is the compressor the writer uses for a packed file: the
// content written to it was already compressed by a worker, so it drops
// its input and emits those bytes. The zip writer still computes the CRC
// and sizes from the content, as for any entry.
type replay struct {
	out  io.Writer
	comp *bytes.Buffer
	pool *sync.Pool // where comp goes once written
}

func (r *replay) Write(p []byte) (int, error) { return len(p), nil }

func (r *replay) Close() error {
	_, err := r.out.Write(r.comp.Bytes())
	r.comp.Reset()
	r.pool.Put(r.comp)
	r.comp = nil
	return err
}
