package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

// Container logs use the CRI log format the kubelet reads, one record a line:
//
//	2026-01-02T15:04:05.123456789Z stdout F the line
//
// F ends a line, P is a fragment of a longer one. Timestamps are what make
// `kubectl logs --timestamps/--since` possible.

const (
	logChunk       = 16 << 10 // longer lines are split into P records
	defaultLogSize = 10 << 20 // as the kubelet's containerLogMaxSize
)

// logWriter copies a process's stdout and stderr into one log file, rotating
// it to <path>.1 when it grows beyond max (one rotated file is kept).
type logWriter struct {
	path string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64

	wg      sync.WaitGroup
	readers []*os.File
}

func openLogWriter(path string, max int64) (*logWriter, error) {
	if max <= 0 {
		max = defaultLogSize
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{path: path, max: max, f: f, size: fi.Size()}, nil
}

// copyFrom reads r (a pipe) until EOF in the background, as stream.
func (w *logWriter) copyFrom(r *os.File, stream string) {
	w.mu.Lock()
	w.readers = append(w.readers, r)
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer r.Close()
		br := bufio.NewReaderSize(r, logChunk)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				full := line[len(line)-1] == '\n'
				if full {
					line = line[:len(line)-1]
				}
				// A fragment at EOF is still the end of a line: nothing will follow it.
				w.record(stream, line, !full && err == bufio.ErrBufferFull)
			}
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
}

func (w *logWriter) record(stream string, line []byte, partial bool) {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.Grow(len(line) + 48)
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(line)
	b.WriteByte('\n')

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return
	}
	n, _ := w.f.Write(b.Bytes())
	w.size += int64(n)
	if w.size >= w.max {
		w.rotate()
	}
}

// rotate keeps the current file as <path>.1; w.mu must be held.
func (w *logWriter) rotate() {
	w.f.Close()
	w.f = nil
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		// Cannot rotate: keep appending rather than losing output.
		w.f, _ = os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND, 0o644)
		return
	}
	w.f, _ = os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o644)
	w.size = 0
}

// finish waits for the copiers to reach EOF, at most grace (a descendant that
// left the process group may keep a pipe open), then closes the file.
func (w *logWriter) finish(grace time.Duration) {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		w.mu.Lock()
		for _, r := range w.readers {
			_ = r.SetReadDeadline(time.Now())
		}
		w.mu.Unlock()
		<-done
	}
	w.close()
}

func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// logLine is one logical line: P fragments joined with their final F.
type logLine struct {
	ts      time.Time
	content []byte // without the newline
}

// logParser turns CRI records into logical lines.
type logParser struct {
	pending *logLine
}

// feed parses one record (without its newline) and returns a completed line, if any.
func (p *logParser) feed(rec []byte) (logLine, bool) {
	ts, stream, tag, content := splitRecord(rec)
	_ = stream
	if p.pending == nil {
		p.pending = &logLine{ts: ts}
	}
	p.pending.content = append(p.pending.content, content...)
	if tag == "P" {
		return logLine{}, false
	}
	l := *p.pending
	p.pending = nil
	return l, true
}

func splitRecord(rec []byte) (ts time.Time, stream, tag string, content []byte) {
	f := bytes.SplitN(rec, []byte{' '}, 4)
	if len(f) == 4 {
		if t, err := time.Parse(time.RFC3339Nano, string(f[0])); err == nil {
			return t, string(f[1]), string(f[2]), f[3]
		}
	}
	// Not a record of ours: show it as it is.
	return time.Time{}, "stdout", "F", rec
}

// logReadOptions are the kubelet's log options, resolved.
type logReadOptions struct {
	tail       int       // last n lines; <= 0: all
	limitBytes int       // stop after this many bytes; <= 0: unlimited
	timestamps bool      // prefix every line with its RFC3339Nano time
	since      time.Time // skip older lines; zero: none
	follow     bool
}

func resolveLogOptions(o api.ContainerLogOpts, now time.Time) logReadOptions {
	r := logReadOptions{tail: o.Tail, limitBytes: o.LimitBytes, timestamps: o.Timestamps, follow: o.Follow, since: o.SinceTime}
	if o.SinceSeconds > 0 {
		r.since = now.Add(-time.Duration(o.SinceSeconds) * time.Second)
	}
	return r
}

var errLimitReached = errors.New("log byte limit reached")

// logEmitter writes formatted lines and enforces the byte limit.
type logEmitter struct {
	w     io.Writer
	opts  logReadOptions
	wrote int
}

func (e *logEmitter) emit(l logLine) error {
	if !e.opts.since.IsZero() && !l.ts.IsZero() && l.ts.Before(e.opts.since) {
		return nil
	}
	var b []byte
	if e.opts.timestamps {
		b = append(b, l.ts.UTC().Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, l.content...)
	b = append(b, '\n')
	if e.opts.limitBytes > 0 {
		left := e.opts.limitBytes - e.wrote
		if len(b) >= left {
			_, err := e.w.Write(b[:left])
			if err != nil {
				return err
			}
			return errLimitReached
		}
	}
	n, err := e.w.Write(b)
	e.wrote += n
	return err
}

// streamLog writes the log at path (with its rotated predecessor) to w.
// With follow it keeps going until ended is closed and everything written
// before that has been sent, or ctx is done.
func streamLog(ctx context.Context, w io.Writer, path string, opts logReadOptions, ended <-chan struct{}) error {
	em := &logEmitter{w: w, opts: opts}
	var parser logParser
	var lines []logLine // ring of the last opts.tail lines, when tailing
	collect := func(l logLine) error {
		if opts.tail > 0 {
			if !opts.since.IsZero() && !l.ts.IsZero() && l.ts.Before(opts.since) {
				return nil
			}
			if len(lines) == opts.tail {
				copy(lines, lines[1:])
				lines = lines[:len(lines)-1]
			}
			lines = append(lines, l)
			return nil
		}
		return em.emit(l)
	}

	// The rotated file first; it cannot change while we read it (a second
	// rotation during the read is rare enough to accept a gap).
	if old, err := os.Open(path + ".1"); err == nil {
		_, err := readAll(old, &parser, collect, nil)
		old.Close()
		if err != nil {
			return finishErr(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	var rest []byte // an incomplete record at the end of the file, still being written
	rest, err = readAll(f, &parser, collect, rest)
	if err != nil {
		return finishErr(err)
	}
	for _, l := range lines {
		if err := em.emit(l); err != nil {
			return finishErr(err)
		}
	}
	if !opts.follow {
		return nil
	}
	// From here on every new line is sent as it comes.
	collect = em.emit
	for {
		finished := false
		select {
		case <-ctx.Done():
			return nil
		case <-ended:
			finished = true
		case <-time.After(200 * time.Millisecond):
		}
		if rest, err = readAll(f, &parser, collect, rest); err != nil {
			return finishErr(err)
		}
		// Rotated under us: finish the old file and move on to the new one.
		if cur, err := os.Stat(path); err == nil {
			if fi, err := f.Stat(); err == nil && !os.SameFile(fi, cur) {
				if nf, err := os.Open(path); err == nil {
					// What was appended to the old file before the rotation comes first.
					if _, err := readAll(f, &parser, collect, rest); err != nil {
						nf.Close()
						return finishErr(err)
					}
					f.Close()
					f = nf
					rest = nil
					if rest, err = readAll(f, &parser, collect, rest); err != nil {
						return finishErr(err)
					}
				}
			}
		}
		if finished {
			return nil
		}
	}
}

func finishErr(err error) error {
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

// readAll reads f from its offset to EOF, passing complete records to parser
// and lines to fn. rest is an incomplete record from the previous call; the
// new incomplete tail is returned.
func readAll(f *os.File, parser *logParser, fn func(logLine) error, rest []byte) ([]byte, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			rest = append(rest, buf[:n]...)
			for {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					break
				}
				if l, ok := parser.feed(rest[:i]); ok {
					if err := fn(l); err != nil {
						return nil, err
					}
				}
				rest = rest[i+1:]
			}
			// Do not let the buffer keep the whole file alive.
			rest = append([]byte(nil), rest...)
		}
		if err == io.EOF {
			return rest, nil
		}
		if err != nil {
			return rest, err
		}
	}
}

// logReader is the io.ReadCloser handed to the kubelet API: a pipe fed by a
// streamLog goroutine that stops when the reader is closed.
type logReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *logReader) Close() error {
	r.cancel()
	return r.PipeReader.Close()
}

func openLogStream(ctx context.Context, path string, opts logReadOptions, ended <-chan struct{}) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		pw.CloseWithError(streamLog(ctx, pw, path, opts, ended))
	}()
	return &logReader{PipeReader: pr, cancel: cancel}
}
