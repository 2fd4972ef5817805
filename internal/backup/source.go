package backup

import (
	"context"
	"io"
)

// Kind is what a source is.
type Kind string

// The source kinds.
const (
	KindPostgres  Kind = "postgres"  // a PostgreSQL database, through pg_dump
	KindEmbedded  Kind = "embedded"  // the embedded SQLite store
	KindDirectory Kind = "directory" // a data directory, as a tar
)

// Source is something to back up. PostgresSource, EmbeddedSource and
// DirectorySource are the implementations; tests add their own.
type Source interface {
	// Name is the source's name: the first segment of its backups' keys.
	Name() string
	// Kind says what the source is.
	Kind() Kind
	// Open starts reading a consistent copy of the source. Cancelling ctx
	// stops the dump (a running pg_dump is killed).
	Open(ctx context.Context) (Dump, error)
}

// Dump is the plaintext stream of a source being read.
//
// Read returns io.EOF only when the whole dump is known to be good: a dump
// program that exits non-zero after writing everything makes the last Read
// fail instead, so no manifest is ever written for it. Close releases what
// the dump holds (a process, a staged file); closing before io.EOF aborts it.
type Dump interface {
	io.ReadCloser
	// Info describes the dump; it is complete once Read has returned io.EOF.
	Info() SourceInfo
}
