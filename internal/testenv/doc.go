// Package testenv runs real servers for tests: PostgreSQL 15, Redis 7, an S3
// server (versitygw), Prometheus 2.42 and Alertmanager 0.25, each on 127.0.0.1 with
// a random free port and its own temporary directory.
//
// # Lifecycle
//
// PostgreSQL, Redis, S3 and the default Alertmanager are shared: one instance per
// test package (per test binary), started on first use and stopped after the last
// test by [Main], which the package's TestMain must call:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Tests share those servers, so each isolates itself by a database, a bucket, a
// Redis DB number or a key prefix of its own, all of which are removed when the
// test ends:
//
//	func TestStore(t *testing.T) {
//		t.Parallel()
//		url := testenv.Postgres(t).NewDatabase(t) // an empty database for this test
//		pool, err := pgxpool.New(t.Context(), url)
//		...
//	}
//
// Prometheus, whose configuration and history belong to one test, and an
// Alertmanager with a test's own configuration are started per test by
// [StartPrometheus] and [StartAlertmanager] and stopped by t.Cleanup.
//
// # Missing servers
//
// A plain `go test ./...` on a machine without, say, redis-server skips the tests
// that need it, naming `make test`, which installs everything through
// scripts/install-test-deps.sh. With CI=true the same tests fail instead: in CI
// a skip would silently hide that they never ran.
//
// # Processes
//
// Every server runs in its own process group, which teardown kills as a whole;
// nothing is ever killed by name. On Linux a server also gets SIGKILL from the kernel
// (Pdeathsig) when the test binary dies without tearing down, for example on a
// test timeout or SIGKILL. The kernel ties Pdeathsig to the thread that forked the
// child, not to the process, so servers are forked from one OS thread locked for
// the life of the test binary. Pdeathsig reaches the server process only, which
// suffices: PostgreSQL's backends (in process groups of their own) exit once
// their postmaster is gone, and the other servers are single processes. The
// temporary directories of a killed test binary stay in $TMPDIR, named
// repairxctl-testenv-*.
//
// As root, PostgreSQL runs as the unprivileged postgres system user, since it
// refuses to run as root; otherwise it runs as the current user.
package testenv
