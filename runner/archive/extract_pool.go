package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// copyBufSize is the size of each worker's copy buffer: large enough that
// a big file goes to the kernel in few writes.
const copyBufSize = 256 << 10

// fileJob fills one regular file the planner has created and opened.
type fileJob struct {
	zf   *zip.File
	name string
	out  *os.File
	// dir and base locate the file for setting its times by name where
	// that cannot be done through the descriptor (then jobs run inline).
	dir  *os.Root
	base string
}

// run writes the entry's content, mode and mtime into the open file and
// closes it, returning the bytes written.
func (j *fileJob) run(ctx context.Context, buf []byte) (int64, error) {
	n, err := j.fill(ctx, buf)
	if cerr := j.out.Close(); err == nil {
		err = cerr
	}
	if err == nil && !fdTimes && !j.zf.Modified.IsZero() {
		err = j.dir.Chtimes(j.base, j.zf.Modified, j.zf.Modified)
	}
	if err != nil {
		return n, fmt.Errorf("archive: %s: %w", j.name, err)
	}
	return n, nil
}

func (j *fileJob) fill(ctx context.Context, buf []byte) (int64, error) {
	rc, err := j.zf.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	n, err := copyFull(ctx, j.out, rc, buf)
	rc.Close()
	if err != nil {
		if isZipDataErr(err) {
			err = fmt.Errorf("%w: %w", ErrInvalidArchive, err)
		}
		return n, err
	}
	if err := j.out.Chmod(j.zf.Mode().Perm()); err != nil {
		return n, err
	}
	if fdTimes && !j.zf.Modified.IsZero() {
		if err := setFileTimes(j.out, j.zf.Modified); err != nil {
			return n, err
		}
	}
	return n, nil
}

// isZipDataErr reports errors that mean the archive's data is damaged.
func isZipDataErr(err error) bool {
	return errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF)
}

// filePool runs fileJobs on a bounded number of goroutines. The first
// failure cancels the context newFilePool returned (which the planner
// watches) and is what wait returns; jobs still queued after it only close
// their files.
type filePool struct {
	cancel context.CancelFunc
	jobs   chan *fileJob
	wg     sync.WaitGroup
	// buf serves inline jobs when there are no worker goroutines.
	buf []byte

	mu    sync.Mutex
	err   error
	bytes int64
}

// newFilePool returns the pool and the context its jobs run in, which
// ends at the first failure: pass it to submit.
func newFilePool(ctx context.Context, workers int) (context.Context, *filePool) {
	ctx, cancel := context.WithCancel(ctx)
	p := &filePool{cancel: cancel}
	if workers <= 1 {
		p.buf = make([]byte, copyBufSize)
		return ctx, p
	}
	// A short queue bounds the files held open ahead of the workers.
	p.jobs = make(chan *fileJob, 2*workers)
	for range workers {
		p.wg.Go(func() { p.work(ctx) })
	}
	return ctx, p
}

// submit runs j on a worker, or at once when the pool has none; ctx is
// the one newFilePool returned.
func (p *filePool) submit(ctx context.Context, j *fileJob) {
	if p.jobs == nil {
		p.do(ctx, j, p.buf)
		return
	}
	p.jobs <- j
}

func (p *filePool) work(ctx context.Context) {
	buf := make([]byte, copyBufSize)
	for j := range p.jobs {
		p.do(ctx, j, buf)
	}
}

func (p *filePool) do(ctx context.Context, j *fileJob, buf []byte) {
	if ctx.Err() != nil {
		j.out.Close()
		return
	}
	n, err := j.run(ctx, buf)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if err != nil && p.err == nil {
		p.err = err
		p.cancel()
	}
}

// wait stops the workers once the queue is drained and returns the first
// job error (nil if none failed).
func (p *filePool) wait() error {
	if p.jobs != nil {
		close(p.jobs)
	}
	p.wg.Wait()
	p.cancel()
	return p.err
}

// copyFull copies src to dst, filling buf before each write so a large
// file reaches the kernel in few system calls, and stops with ctx's error
// soon after ctx is done.
func copyFull(ctx context.Context, dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr := 0
		var rerr error
		for nr < len(buf) && rerr == nil {
			var k int
			k, rerr = src.Read(buf[nr:])
			nr += k
		}
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
