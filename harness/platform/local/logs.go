package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ExportLogs implements platform.Platform: it copies the component logs
// (logs/*.log: etcd, kube-apiserver, controllers, Argo, Prometheus, Traefik,
// the node agent) and every container log (pods/<namespace>_<pod>_<uid>/
// <container>/<restart>.log) to dir, which is created. The cluster keeps
// running; a copy is a snapshot.
func (c *Cluster) ExportLogs(ctx context.Context, dir string) error {
	if c.attached {
		return errors.New("the cluster belongs to another process (cluster up): use `blastradius cluster down --keep-logs`")
	}
	return exportLogs(ctx, c.opts.DataDir, dir)
}

// ExportLogsFrom copies the logs of a cluster's data dir whose process is
// gone (a killed `cluster up`), as ExportLogs does for a running one.
func ExportLogsFrom(ctx context.Context, dataDir, dir string) error {
	return exportLogs(ctx, dataDir, dir)
}

func exportLogs(ctx context.Context, dataDir, dir string) error {
	if _, err := os.Stat(dataDir); err != nil {
		return fmt.Errorf("no cluster data to keep logs from: %w", err)
	}
	copies := map[string]string{ // source tree in the data dir -> target in dir
		filepath.Join(dataDir, "logs"):         dir,
		filepath.Join(dataDir, "node", "pods"): filepath.Join(dir, "pods"),
	}
	var errs []error
	for src, dst := range copies {
		if err := copyLogTree(ctx, src, dst); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyLogTree copies the *.log files under src to the same places under dst.
func copyLogTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // nothing of this kind was written
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".log") {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
