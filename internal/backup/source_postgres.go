package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
)

// The pg_dump formats a PostgresSource writes.
const (
	FormatCustom    = "custom"    // one stream, restorable from stdin
	FormatDirectory = "directory" // parallel dump (--jobs), staged, sent as a tar
)

// PostgresOptions configure a PostgresSource.
type PostgresOptions struct {
	// Format is FormatCustom (the default) or FormatDirectory.
	Format string
	// Jobs is pg_dump --jobs for FormatDirectory (default 1).
	Jobs int
	// StagingDir is where FormatDirectory dumps are staged; "" means the
	// system's temporary directory.
	StagingDir string
	// BinDir overrides where pg_dump is looked for; "" means Debian's
	// /usr/lib/postgresql/<server major>/bin.
	BinDir string
	// NoTableSummary skips the per-table row counts and checksums read in
	// the dump's snapshot. Without them a restore test can only check that
	// the restore succeeds and count rows, not compare contents.
	NoTableSummary bool
}

// PostgresSource backs up one PostgreSQL database with pg_dump, the one of
// the server's major version (server_version_num picks
// /usr/lib/postgresql/<major>/bin/pg_dump): an older pg_dump refuses a newer
// server, and a newer one writes archives the server's own pg_restore may
// not read.
//
// The custom format (the default) streams pg_dump's stdout straight into the
// pipeline: nothing touches local disk. pg_dump's own compression is off
// (--compress=0): zstd does it better and in parallel.
//
// The directory format exists for parallel dumps (--jobs N) of large
// databases. pg_dump writes it as files, so it is STAGED on local disk in
// StagingDir (the uncompressed dump: plan for about the database's dump
// size) and then sent as a tar of the dump directory; the staging directory
// is removed when the dump is closed, also on failure.
//
// The password of the URL reaches pg_dump through PGPASSWORD, never its
// command line. pg_dump's stderr is kept for the error message, and its
// non-zero exit fails the run even when all its output was read.
//
// Unless NoTableSummary is set, every table's row count and checksum are
// read in the very snapshot pg_dump dumps (exported with
// pg_export_snapshot and passed as --snapshot), concurrently with the dump,
// and recorded in the manifest for restore tests. This reads every table a
// second time.
type PostgresSource struct {
	name string
	url  pgURL
	o    PostgresOptions
}

// NewPostgresSource returns the source for the database at rawURL
// (postgres://user:password@host:port/database?sslmode=...). name "" means
// the database's name. Only URL options libpq knows may appear in the URL.
func NewPostgresSource(name, rawURL string, o PostgresOptions) (*PostgresSource, error) {
	u, err := parsePGURL(rawURL)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = u.database
	}
	if err := ValidateSourceName(name); err != nil {
		return nil, fmt.Errorf("%w (name the source explicitly)", err)
	}
	switch o.Format {
	case "":
		o.Format = FormatCustom
	case FormatCustom, FormatDirectory:
	default:
		return nil, fmt.Errorf("unknown pg_dump format %q: use %s or %s", o.Format, FormatCustom, FormatDirectory)
	}
	if o.Jobs <= 0 {
		o.Jobs = 1
	}
	if o.Jobs > 1 && o.Format != FormatDirectory {
		return nil, fmt.Errorf("parallel dumps (jobs %d) need the %s format", o.Jobs, FormatDirectory)
	}
	return &PostgresSource{name: name, url: u, o: o}, nil
}

// Name returns the source's name.
func (s *PostgresSource) Name() string { return s.name }

// Kind returns KindPostgres.
func (s *PostgresSource) Kind() Kind { return KindPostgres }

// Open connects, finds the matching pg_dump and starts it.
func (s *PostgresSource) Open(ctx context.Context) (Dump, error) {
	ctx, cancel := context.WithCancel(ctx)
	d, err := s.open(ctx, cancel)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("postgres source %s (%s): %w", s.name, s.url.redacted, err)
	}
	return d, nil
}

func (s *PostgresSource) open(ctx context.Context, cancel context.CancelFunc) (Dump, error) {
	conn, err := connect(ctx, s.url)
	if err != nil {
		return nil, err
	}
	snap := &pgSnapshot{conn: conn}
	ok := false
	defer func() {
		if !ok {
			snap.close()
		}
	}()
	srv, err := queryServer(ctx, conn)
	if err != nil {
		return nil, err
	}
	var database string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&database); err != nil {
		return nil, err
	}
	tool, err := pgTool(s.o.BinDir, srv.major(), "pg_dump")
	if err != nil {
		return nil, err
	}
	toolVer, err := toolVersion(ctx, tool)
	if err != nil {
		return nil, err
	}
	info := SourceInfo{
		Name: s.name, Kind: KindPostgres, DumpFormat: s.o.Format, DumpTool: toolVer,
		ServerVersion: srv.version, ServerVersionNum: srv.versionNum, Database: database,
	}
	args := []string{"--format=" + s.o.Format, "--compress=0", "--no-password", "--dbname=" + s.url.noSecret}
	if !s.o.NoTableSummary {
		if err := snap.export(ctx); err != nil {
			return nil, err
		}
		args = append(args, "--snapshot="+snap.id)
	} else {
		snap.close()
	}

	if s.o.Format == FormatDirectory {
		staging, err := os.MkdirTemp(s.o.StagingDir, "repairxctl-pgdump-*")
		if err != nil {
			return nil, fmt.Errorf("staging the directory-format dump: %w", err)
		}
		dumpDir := filepath.Join(staging, "dump")
		args = append(args, "--jobs="+strconv.Itoa(s.o.Jobs), "--no-sync", "--file="+dumpDir)
		d := newTarDump(ctx, func(ctx context.Context, tw *tar.Writer, st *treeStats) error {
			cmd := s.command(ctx, tool, args)
			stderr := newTailBuffer()
			cmd.Stdout, cmd.Stderr = stderr, stderr
			if err := cmd.Start(); err != nil {
				return err
			}
			snap.summarise(ctx)
			if err := cmd.Wait(); err != nil {
				return toolError("pg_dump", err, stderr)
			}
			tables, err := snap.wait()
			if err != nil {
				return err
			}
			info.Tables = tables
			return writeTree(ctx, tw, dumpDir, st)
		}, func(st *treeStats) SourceInfo {
			info.Files = st.entries
			return info
		})
		d.close = func() error {
			cancel()
			snap.close()
			return os.RemoveAll(staging)
		}
		ok = true
		return d, nil
	}

	cmd := s.command(ctx, tool, args)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := newTailBuffer()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", tool, err)
	}
	snap.summarise(ctx)
	d := &cmdDump{ctx: ctx, cmd: cmd, stdout: stdout, stderr: stderr, tool: "pg_dump", info: info, cancel: cancel}
	d.atEOF = func() error {
		tables, err := snap.wait()
		d.info.Tables = tables
		return err
	}
	d.cleanup = func() error { snap.close(); return nil }
	ok = true
	return d, nil
}

// command builds a pg_dump command that dies with ctx, process group and all.
func (s *PostgresSource) command(ctx context.Context, tool string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = s.url.env("repairxctl-backup")
	ownProcessGroup(cmd)
	return cmd
}

// pgSnapshot is the exported snapshot pg_dump dumps, and the table summary
// read in it.
type pgSnapshot struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	id     string
	result chan summaryResult
	once   sync.Once
}

type summaryResult struct {
	tables []TableSummary
	err    error
}

// export opens a repeatable-read transaction and exports its snapshot.
func (p *pgSnapshot) export(ctx context.Context) error {
	tx, err := p.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("starting the snapshot transaction: %w", err)
	}
	p.tx = tx
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&p.id); err != nil {
		return fmt.Errorf("exporting a snapshot: %w", err)
	}
	return nil
}

// summarise starts reading the table summary in the snapshot, if exported.
func (p *pgSnapshot) summarise(ctx context.Context) {
	if p.tx == nil {
		return
	}
	p.result = make(chan summaryResult, 1)
	go func() {
		tables, err := tableSummaries(ctx, p.tx)
		p.result <- summaryResult{tables, err}
	}()
}

// wait returns the summary (nil when none was asked for).
func (p *pgSnapshot) wait() ([]TableSummary, error) {
	if p.result == nil {
		return nil, nil
	}
	r := <-p.result
	p.result = nil
	return r.tables, r.err
}

// close ends the transaction and the connection, after the summary stopped.
func (p *pgSnapshot) close() {
	p.once.Do(func() {
		if p.result != nil {
			<-p.result
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if p.tx != nil {
			_ = p.tx.Rollback(ctx)
		}
		_ = p.conn.Close(ctx)
	})
}

// cmdDump streams a command's stdout. The last Read returns io.EOF only if
// the command exited zero and atEOF succeeded; otherwise it returns the
// failure, with the command's stderr.
type cmdDump struct {
	ctx     context.Context
	cmd     *exec.Cmd
	stdout  io.ReadCloser
	stderr  *tailBuffer
	tool    string
	info    SourceInfo
	cancel  context.CancelFunc
	atEOF   func() error
	cleanup func() error

	err    error
	waited bool
	once   sync.Once
	cerr   error
}

func (d *cmdDump) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.stdout.Read(p)
	if err == io.EOF {
		d.waited = true
		if werr := d.cmd.Wait(); werr != nil {
			d.err = toolError(d.tool, werr, d.stderr)
			if cerr := d.ctx.Err(); cerr != nil {
				d.err = fmt.Errorf("%s stopped: %w", d.tool, context.Cause(d.ctx))
			}
		} else if d.atEOF != nil {
			d.err = d.atEOF()
		}
		if d.err == nil {
			d.err = io.EOF
		}
		return n, d.err
	}
	if err != nil {
		d.err = err
	}
	return n, err
}

func (d *cmdDump) Info() SourceInfo { return d.info }

// Close kills the command if it still runs and releases the rest.
func (d *cmdDump) Close() error {
	d.once.Do(func() {
		d.cancel()
		if !d.waited {
			d.waited = true
			_ = d.cmd.Wait()
		}
		if d.cleanup != nil {
			d.cerr = d.cleanup()
		}
	})
	return d.cerr
}
