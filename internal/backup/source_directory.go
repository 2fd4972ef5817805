package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// DirectorySource backs up a data directory as a tar stream (archive/tar,
// PAX format), written while it is read: nothing is staged. Regular files,
// directories and symbolic links are archived with their modes, times and
// owners; symbolic links are stored as links and never followed, so nothing
// outside the directory is read; sockets, FIFOs and devices are skipped and
// named in the manifest. The copy is not a snapshot: files changing during
// the run are archived as they are read (a file that shrinks fails the run).
type DirectorySource struct {
	name string
	dir  string
}

// NewDirectorySource returns the source for the directory dir. name "" means
// the directory's base name.
func NewDirectorySource(name, dir string) (*DirectorySource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("directory source %s: %w", dir, err)
	}
	if name == "" {
		name = filepath.Base(abs)
	}
	if err := ValidateSourceName(name); err != nil {
		return nil, err
	}
	return &DirectorySource{name: name, dir: abs}, nil
}

// Name returns the source's name.
func (s *DirectorySource) Name() string { return s.name }

// Kind returns KindDirectory.
func (s *DirectorySource) Kind() Kind { return KindDirectory }

// Open starts archiving the directory.
func (s *DirectorySource) Open(ctx context.Context) (Dump, error) {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return nil, fmt.Errorf("directory source %s: %w", s.dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("directory source %s: not a directory", s.dir)
	}
	return newTarDump(ctx, func(ctx context.Context, tw *tar.Writer, st *treeStats) error {
		return writeTree(ctx, tw, s.dir, st)
	}, func(st *treeStats) SourceInfo {
		return SourceInfo{Name: s.name, Kind: KindDirectory, DumpFormat: "tar", Files: st.entries, Skipped: st.skipped}
	}), nil
}

// tarDump streams a tar written by a goroutine.
type tarDump struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	st     treeStats
	info   func(*treeStats) SourceInfo
	close  func() error // extra cleanup, after the writer stopped
	once   sync.Once
	err    error
}

// newTarDump starts write in a goroutine; its tar is what the dump reads.
func newTarDump(ctx context.Context, write func(context.Context, *tar.Writer, *treeStats) error, info func(*treeStats) SourceInfo) *tarDump {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	d := &tarDump{pr: pr, cancel: cancel, done: make(chan struct{}), info: info}
	go func() {
		defer close(d.done)
		tw := tar.NewWriter(pw)
		err := write(ctx, tw, &d.st)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return d
}

func (d *tarDump) Read(p []byte) (int, error) { return d.pr.Read(p) }

// Info describes the archive; call it after io.EOF.
func (d *tarDump) Info() SourceInfo {
	<-d.done
	return d.info(&d.st)
}

// Close stops the writer if it still runs and releases what it used.
func (d *tarDump) Close() error {
	d.once.Do(func() {
		d.cancel()
		d.pr.CloseWithError(errors.New("the dump was closed"))
		<-d.done
		if d.close != nil {
			d.err = d.close()
		}
	})
	return d.err
}
