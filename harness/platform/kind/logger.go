package kind

import (
	"fmt"
	"io"
	"sync"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// fileLogger is kind's logger writing to the platform's log file: kind's
// progress and warnings are for debugging, not the user's terminal, which
// gets the platform's own lines.
type fileLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *fileLogger { return &fileLogger{w: w} }

func (l *fileLogger) line(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", level, msg)
}

func (l *fileLogger) Warn(m string)                      { l.line("WARN", m) }
func (l *fileLogger) Warnf(f string, a ...interface{})   { l.line("WARN", fmt.Sprintf(f, a...)) }
func (l *fileLogger) Error(m string)                     { l.line("ERROR", m) }
func (l *fileLogger) Errorf(f string, a ...interface{})  { l.line("ERROR", fmt.Sprintf(f, a...)) }
func (l *fileLogger) V(kindlog.Level) kindlog.InfoLogger { return infoLogger{l} }

type infoLogger struct{ l *fileLogger }

func (i infoLogger) Info(m string)                    { i.l.line("INFO", m) }
func (i infoLogger) Infof(f string, a ...interface{}) { i.l.line("INFO", fmt.Sprintf(f, a...)) }
func (i infoLogger) Enabled() bool                    { return true }
