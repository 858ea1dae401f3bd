package worker

import (
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// batchWait is how long a caught-up stream lets records gather.
const batchWait = 20 * time.Millisecond

// spool keeps a worker's records on disk, one NDJSON line each, with the
// offset of every line, so that a stream can resume from any record and a
// long attack does not grow the worker's memory by its records.
type spool struct {
	f *os.File

	mu     sync.Mutex
	offs   []int64 // start of line i; the file's size at the end
	closed bool
	err    error         // a failed write: the records are incomplete
	grew   chan struct{} // closed and replaced on each append and on close
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "records-*.ndjson")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the data lives as long as the open file.
	_ = os.Remove(f.Name())
	return &spool{f: f, offs: []int64{0}, grew: make(chan struct{})}, nil
}

// append writes one line (with its newline).
func (s *spool) append(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	end := s.offs[len(s.offs)-1]
	if _, err := s.f.WriteAt(line, end); err != nil {
		s.err = err
		return err
	}
	s.offs = append(s.offs, end+int64(len(line)))
	close(s.grew)
	s.grew = make(chan struct{})
	return nil
}

// close marks the spool complete: readers end once they have read all.
func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.grew)
	}
}

// count is the number of records spooled.
func (s *spool) count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.offs) - 1)
}

// copyFrom writes records from the from-th on to w, following the spool,
// until it is closed and all are written, ctx ends or w fails. flush is
// called whenever the writer has caught up.
func (s *spool) copyFrom(ctx context.Context, w io.Writer, from int64, flush func()) error {
	buf := make([]byte, 64<<10)
	for {
		s.mu.Lock()
		n := int64(len(s.offs) - 1)
		closed, grew, err := s.closed, s.grew, s.err
		var start, end int64
		if from < n {
			start, end = s.offs[from], s.offs[n]
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if from < n {
			for start < end {
				k, rerr := s.f.ReadAt(buf[:min(int64(len(buf)), end-start)], start)
				if k > 0 {
					if _, werr := w.Write(buf[:k]); werr != nil {
						return werr
					}
				}
				if rerr != nil && rerr != io.EOF {
					return rerr
				}
				start += int64(k)
			}
			from = n
			continue
		}
		flush()
		if closed {
			return nil
		}
		// Wait for more, but not too long between flushes of a slow trickle.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-grew:
			// Let a few more come: one write per batch, not per record.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(batchWait):
			}
		case <-time.After(time.Second):
		}
	}
}

func (s *spool) remove() { s.f.Close() }
