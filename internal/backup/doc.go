// Package backup makes streamed, encrypted, verifiable backups of PostgreSQL
// databases, the embedded SQLite store and data directories into a
// repository (repo.Repository: a directory or an S3 bucket), and lists,
// verifies, restores and prunes them.
//
// The package never prints. Every operation takes a context (cancelling it
// stops the work, kills child processes and aborts the upload), reports
// progress and warnings through an optional Reporter, and returns a typed
// result whose fields carry snake_case JSON tags, lists being [] rather than
// null.
//
// # API for the commands
//
//	backup keygen   GenerateIdentity, FormatIdentityFile (write it 0600)
//	backup run      NewPostgresSource | NewEmbeddedSource | NewDirectorySource,
//	                ParseRecipients / ParseRecipient -> Encryption, Run
//	backup list     List (Entry: State, Manifest, Verification)
//	backup verify   Resolve, ParseIdentities | PassphraseIdentity, Verify
//	                (VerifyOptions.RestoreTest for --restore-test)
//	backup restore  Resolve (an id, "latest", a time) or ResolveAt (--at), Restore
//	                (Target.Database | Dir | File, Force)
//	backup prune    Prune (Policy, DefaultPolicy, dry run)
//	lock handling   ReadLock, BreakLock
//
// A typical run:
//
//	recips, err := backup.ParseRecipients(strings.NewReader(cfg.Recipients))
//	src, err := backup.NewPostgresSource(name, dbURL, backup.PostgresOptions{})
//	res, err := backup.Run(ctx, repository, src, backup.RunOptions{
//		Encryption: backup.Encryption{Recipients: recips},
//		Reporter:   progress,
//	})
//	// res.Manifest: id, sizes, checksums, timings, for the JSON log line and metrics.
//
// # Errors and exit codes
//
// Errors wrap sentinels for errors.Is; the commands map them to exit codes
// (the first four as the issue fixes them, the rest as suggested):
//
//	ErrNotFound (and ErrIncomplete)   10  no such backup; no complete backup; no manifest
//	ErrLocked (*LockedError)          11  another run holds the source's lock
//	ErrIntegrity                      12  wrong identity, failed authentication tag,
//	                                      checksum or size mismatch, truncated object,
//	                                      damaged manifest, restore test mismatch
//	repo.ErrUnavailable               75  the repository is unreachable (passes through)
//	repo.ErrDenied                     4  the repository refused the credentials
//	ErrIdentityRequired                2  an encrypted backup and no identity given
//	ErrTargetNotEmpty                  1  a non-empty restore target without Force
//	context.Canceled                 130  interrupted
//
// Messages name the backup (source/id) and what to do, and never contain a
// password or a secret key.
//
// # Layout in a repository
//
//	<source>/lock                      the source's lock (JSON LockInfo)
//	<source>/<id>/data.zst.age         the data: zstd, then age (data.zst when unencrypted)
//	<source>/<id>/manifest.json        the Manifest, written LAST
//	<source>/<id>/verified.json        the last successful verification (Verification)
//
// An id is the run's UTC start time and six base32 characters, e.g.
// 20261123T020000Z-k3fa2b; the suffix encodes the millisecond and 20 random
// bits, so ids sort in time order as strings (NewID, ParseID). Source names
// are 1 to 100 of [A-Za-z0-9._-] (ValidateSourceName).
//
// A backup without a manifest is incomplete: its run failed, was killed, or
// is still running. List shows it as StateIncomplete, never as complete;
// Resolve, Verify and Restore refuse it with ErrIncomplete; Prune deletes
// it once it is older than Policy.IncompleteGrace (24 h by default). A
// manifest that does not parse, or whose data object is missing or of
// another size, makes the backup StateDamaged: never restored, never counted
// by retention, never deleted automatically.
//
// Manifests are write-once. Verify records its success in a separate
// verified.json instead of rewriting the manifest: a failed or interrupted
// write can then never damage the object a restore depends on, and
// repositories with object lock (WORM) policies keep working. List reports
// it as Entry.Verification when its checksum matches the manifest's.
//
// # The pipeline
//
//	source -> SHA-256 (plaintext) -> zstd -> age -> SHA-256 (stored) -> repo.Put
//
// Everything is streamed through an io.Pipe: the source is read as the
// upload consumes it, and memory is bounded by zstd's window and blocks in
// flight (RunOptions.Concurrency) plus the repository's upload parts,
// whatever the size of the source (about 20 MiB of heap for a 256 MiB
// backup to a directory, tested). zstd comes from klauspost/compress (level
// 1-22, default 3, mapped onto its four encoders, frame checksums on); age
// encrypts to X25519 recipients, so the host that writes backups cannot
// read them, or with a passphrase (scrypt). A backup is written unencrypted
// only with Encryption.Unencrypted, and its manifest says so (mode "none").
//
// A run fails, and writes no manifest, if anything fails: the source (a
// pg_dump that exits non-zero even after all its output was read makes the
// last Read fail instead of returning io.EOF), the upload (the repository
// aborts the multipart upload), or ctx. If the data object was complete
// when the failure came (the manifest could not be written), Run deletes it;
// if even that fails it stays as an incomplete backup for Prune.
//
// # Sources, and what is staged on local disk
//
// Nothing is staged unless the source's format needs it:
//
//   - PostgresSource, custom format (default): pg_dump --format=custom
//     --compress=0 streams from its stdout; nothing touches the disk. The
//     pg_dump is the server's major version (SHOW server_version_num, then
//     /usr/lib/postgresql/<major>/bin/pg_dump, Debian's layout, or
//     PostgresOptions.BinDir); a missing one is a clear error naming the
//     package to install. The URL's password reaches pg_dump in PGPASSWORD,
//     never on its command line; pg_dump's stderr is kept for the error.
//     By default each table's row count and checksum are read in the dump's
//     own snapshot (pg_export_snapshot + --snapshot) and stored in the
//     manifest for restore tests; this reads every table a second time
//     (PostgresOptions.NoTableSummary turns it off).
//   - PostgresSource, directory format (--jobs N for parallel dumps): STAGED.
//     pg_dump writes files, so the dump goes to a temporary directory in
//     PostgresOptions.StagingDir (uncompressed: plan for about the size of
//     the dump) and is then streamed as a tar of that directory; the
//     directory is removed afterwards, on failure too.
//   - EmbeddedSource: STAGED. A consistent online copy is made with VACUUM
//     INTO a hidden temporary file (mode 0600) beside the store in the data
//     directory (same file system and permissions, about the size of the
//     live database), checked with PRAGMA quick_check, streamed, and
//     removed. serve keeps running meanwhile.
//   - DirectorySource: a tar (PAX) written as it is read; not staged.
//     Directories, regular files and symbolic links keep their modes, times
//     and owners; links are stored as links and never followed, and files
//     are opened through an os.Root, so nothing outside the tree is read.
//     Sockets, FIFOs and devices are skipped, named in the manifest and
//     warned about. It is not a snapshot: a file that shrinks while being
//     read fails the run.
//
// Restores stage too, where noted under Restore.
//
// # Locking
//
// Run takes <source>/lock with repo.CreateExclusive before reading the
// source, and Prune before deleting: a second run of the same source gets
// ErrLocked, as a *LockedError naming the holder's host, pid, operation,
// start and expiry. The lock is renewed every third of RunOptions.LockTTL
// (30 min by default) and removed at the end, also after a failure or
// cancellation. A stale lock (expired, or held by a dead pid on this host)
// is broken with a warning. Breaking is not atomic on object stores (there
// is no conditional delete): two runs finding the same stale lock at the
// same moment could both proceed, and would then write two separate,
// complete backups; nothing is lost.
//
// # Verify
//
// Verify downloads a backup and checks, in one pass, the stored object's
// size and SHA-256, age's authentication of every 64 KiB chunk (which also
// catches truncation and a wrong identity), zstd's frame checksums and the
// plaintext's size and SHA-256, all against the manifest. It also reads
// inside: a custom-format dump is piped into `pg_restore --list` (its table
// of contents must parse), a directory-format dump's toc.dat likewise, a
// tar is walked entry by entry, a SQLite file must carry the SQLite header.
// With VerifyOptions.RestoreTest a PostgreSQL backup is then restored into
// the given scratch database (which must be empty unless Force, and keeps
// the data afterwards) and every table's row count and checksum are
// compared with the manifest. Success writes verified.json.
//
// # Restore
//
// Restore only restores complete backups, checks every byte against the
// manifest on the way (a mismatch is ErrIntegrity), refuses a non-empty
// target unless Target.Force, and never leaves a target half-restored
// without saying so:
//
//   - File (and single-file backups restored into a Dir): written to a
//     temporary file beside the destination and renamed into place after
//     the checks; on failure nothing changes. Replacing the embedded store
//     is refused while its -wal file holds commits (stop serve first).
//   - Dir, missing or empty: extracted into a sibling staging directory and
//     renamed into place after the checks. Non-empty (Force): a full
//     verification pass first, then extraction in place through an
//     os.Root (no entry can write outside it); if the second pass still
//     fails the error says the directory is PARTIALLY RESTORED.
//   - Database, custom format: a full verification pass first (the backup
//     is downloaded twice), then the stream goes to pg_restore's stdin with
//     --single-transaction --exit-on-error. The checks finish before stdin
//     is closed; on a failure pg_restore is killed before it can commit, so
//     the database is unchanged, and a pg_restore failure rolls its
//     transaction back. Force adds --clean --if-exists. pg_restore is the
//     target server's major version (or the closest newer one installed).
//   - Database, directory format: STAGED in Target.StagingDir and checked
//     completely before pg_restore starts; with Target.Jobs > 1 pg_restore
//     cannot use one transaction, so a pg_restore failure leaves a partial
//     restore, which the error says.
//
// # Prune
//
// Prune keeps a complete backup if any rule of the Policy keeps it
// (KeepLast, KeepDays, KeepDaily, KeepWeekly, KeepMonthly; a Policy with no
// rule keeps 30 days) and always keeps the newest complete backup. It
// returns every decision with its reasons; with dryRun it changes nothing.
// It deletes a backup's manifest first, so an interrupted prune leaves an
// incomplete backup, never one that looks complete, and it aborts abandoned
// uploads older than the grace period.
package backup
