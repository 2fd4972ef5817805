package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds a server's start; generous because CI machines are slow
	// and a deadline only costs time when something is already wrong.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a server may take to shut down cleanly before its
	// process group is killed.
	stopTimeout = 10 * time.Second
	// pollInterval paces readiness probes.
	pollInterval = 10 * time.Millisecond
	// portAttempts bounds restarts after losing a free port to another process
	// between picking it and the server binding it.
	portAttempts = 3
)

// command describes one program to run.
type command struct {
	name    string   // for messages, e.g. "redis-server"
	path    string   // executable
	args    []string // arguments
	env     []string // added to the test binary's environment
	dir     string   // working directory; also holds the log of a server
	cred    *syscall.Credential
	stopSig syscall.Signal // asks the server to shut down cleanly
}

// process is a running server.
type process struct {
	pid      int
	logPath  string
	stopSig  syscall.Signal
	exited   chan struct{} // closed once the server is reaped
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
}

// server is the process and temporary directory behind one of the exported
// server types.
type server struct {
	dir       string
	proc      *process // nil until started
	closeOnce sync.Once
}

// running holds every server not yet closed, so Main can close what is left.
var running = struct {
	mu       sync.Mutex
	servers  map[*server]struct{}
	shutdown bool // no more servers: the test binary is exiting
}{servers: map[*server]struct{}{}}

// newServer creates the server's temporary directory and registers the server,
// before anything is started, so that nothing escapes teardown.
func newServer(service string) (*server, error) {
	running.mu.Lock()
	defer running.mu.Unlock()
	if running.shutdown {
		return nil, errors.New("the test binary is shutting down")
	}
	dir, err := makeTempDir(service)
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	running.servers[s] = struct{}{}
	return s, nil
}

// close stops the server and removes its directory.
func (s *server) close() {
	s.closeOnce.Do(func() {
		if s.proc != nil {
			s.proc.stop()
		}
		_ = os.RemoveAll(s.dir)
		running.mu.Lock()
		delete(running.servers, s)
		running.mu.Unlock()
	})
}

// launcher forks every child from one OS thread that never exits: the kernel
// sends Pdeathsig when the forking thread exits, not the process, and the Go
// runtime may otherwise fork from a thread it later retires.
var launcher struct {
	once sync.Once
	reqs chan func()
}

func onLauncherThread(f func()) {
	launcher.once.Do(func() {
		launcher.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked, so the thread lives as long as the binary
			for f := range launcher.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	launcher.reqs <- func() { f(); close(done) }
	<-done
}

func (c command) cmd() *exec.Cmd {
	cmd := exec.Command(c.path, c.args...)
	cmd.Dir = c.dir
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.SysProcAttr = sysProcAttr(c.cred)
	return cmd
}

func startCmd(cmd *exec.Cmd) error {
	var err error
	onLauncherThread(func() { err = cmd.Start() })
	return err
}

// run runs a short-lived tool to completion and returns its combined output.
func run(ctx context.Context, c command) ([]byte, error) {
	cmd := c.cmd()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			return out.Bytes(), fmt.Errorf("%s %s: %w\n%s", c.name, strings.Join(c.args, " "), err, tail(out.Bytes()))
		}
		return out.Bytes(), nil
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return out.Bytes(), fmt.Errorf("%s: %w\n%s", c.name, ctx.Err(), tail(out.Bytes()))
	}
}

// startServer starts a long-running server with its output in DIR/NAME.log and
// waits until ready reports it serves, or until the server exits or ctx ends.
func startServer(ctx context.Context, c command, ready func(context.Context) error) (*process, error) {
	logPath := c.dir + "/" + c.name + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := c.cmd()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	p := &process{
		pid:     cmd.Process.Pid,
		logPath: logPath,
		stopSig: c.stopSig,
		exited:  make(chan struct{}),
	}
	if p.stopSig == 0 {
		p.stopSig = syscall.SIGTERM
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	for {
		err := ready(ctx)
		if err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			p.stop()
			return nil, fmt.Errorf("%s exited during start (%v); log tail:\n%s", c.name, p.waitErr, p.logTail())
		case <-ctx.Done():
			p.stop()
			return nil, fmt.Errorf("%s not ready: %v (%w); log tail:\n%s", c.name, err, ctx.Err(), p.logTail())
		case <-time.After(pollInterval):
		}
	}
}

// withFreePort calls start with a free port, again with another port if the
// server lost the one it was given.
func withFreePort[T any](start func(port int) (T, error)) (T, error) {
	var zero T
	var err error
	for range portAttempts {
		var port int
		port, err = freePort()
		if err != nil {
			return zero, err
		}
		var v T
		v, err = start(port)
		if err == nil {
			return v, nil
		}
		if !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
			return zero, err
		}
	}
	return zero, err
}

// freePort asks the kernel for a port nobody listens on. Another process may
// take it before the server binds it; withFreePort retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop shuts the server down cleanly if it does so in time, then kills what is
// left of its process group. (PostgreSQL's backends are not in it: each calls
// setsid, and exits by itself once its postmaster is gone.)
func (p *process) stop() {
	p.stopOnce.Do(func() {
		_ = syscall.Kill(p.pid, p.stopSig)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
		}
		// Also after a clean exit, for members left behind. The group's id is
		// the leader's pid, which Linux hands out again only after cycling
		// through pid_max, far beyond what a test run starts.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.exited
	})
}

// shutdown closes every server still running, in parallel since each may take
// a moment to shut down, and refuses to start more.
func shutdown() {
	running.mu.Lock()
	running.shutdown = true
	servers := make([]*server, 0, len(running.servers))
	for s := range running.servers {
		servers = append(servers, s)
	}
	running.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(s.close)
	}
	wg.Wait()
}

func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(b)
}

// tail returns the last lines of a log, enough to show why a server failed.
func tail(b []byte) string {
	const maxLines, maxBytes = 20, 4096
	s := strings.TrimRight(string(b), "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// makeTempDir creates a directory for one server. Not t.TempDir: servers shared
// by a package outlive the test that started them, and PostgreSQL's directory
// must belong to the postgres user.
func makeTempDir(service string) (string, error) {
	return os.MkdirTemp("", "repairxctl-testenv-"+service+"-")
}

func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
