package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisDatabases is Redis' default number of databases; NewDB hands them out.
const redisDatabases = 16

// RedisServer is a Redis server without persistence or password.
type RedisServer struct {
	addr string
	free chan int // database numbers no test holds
}

// Redis returns the package's shared Redis server, starting it on first use.
// Tests isolate themselves with NewDB or a key prefix.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	requireMain(t)
	path, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, os.Getenv("CI"), "redis-server (package redis-server)")
		return nil
	}
	began, started := time.Now(), false
	r, err := shared.redis.get(func() (*RedisServer, error) {
		started = true
		return startRedis(path)
	})
	if err != nil {
		t.Fatalf("testenv: start Redis: %v", err)
	}
	if started {
		logStart(t, "Redis", r.addr, began)
	}
	return r
}

func startRedis(path string) (*RedisServer, error) {
	s, err := newServer("redis")
	if err != nil {
		return nil, err
	}
	ctx, cancel := startContext()
	defer cancel()
	r, err := withFreePort(func(port int) (*RedisServer, error) {
		addr := hostPort(port)
		proc, err := startServer(ctx, command{
			name: "redis-server",
			path: path,
			args: []string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--dir", s.dir,
				"--databases", strconv.Itoa(redisDatabases),
			},
			dir: s.dir,
		}, func(ctx context.Context) error {
			reply, err := redisDo(ctx, addr, []string{"PING"})
			if err == nil && reply != "PONG" {
				err = fmt.Errorf("PING answered %q", reply)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		s.proc = proc
		r := &RedisServer{addr: addr, free: make(chan int, redisDatabases)}
		for db := range redisDatabases {
			r.free <- db
		}
		return r, nil
	})
	if err != nil {
		s.close()
		return nil, err
	}
	return r, nil
}

// Addr returns the server's host:port.
func (r *RedisServer) Addr() string { return r.addr }

// URL returns a redis:// URL for database db.
func (r *RedisServer) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.addr, db) }

// NewDB returns a database number no other test holds, empty, and flushes and
// returns it when the test ends. With all 16 taken it waits for one, so more
// parallel tests than databases slow down rather than collide.
func (r *RedisServer) NewDB(t testing.TB) int {
	t.Helper()
	var db int
	select {
	case db = <-r.free:
	case <-time.After(2 * time.Minute):
		t.Fatalf("testenv: all %d Redis databases stayed in use for 2m; isolate some tests by key prefix instead", redisDatabases)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := redisDo(ctx, r.addr, []string{"SELECT", strconv.Itoa(db)}, []string{"FLUSHDB"}); err != nil {
			// Never hand out a database that may hold another test's keys.
			t.Errorf("testenv: flush Redis database %d: %v", db, err)
			return
		}
		r.free <- db
	})
	return db
}

// redisDo sends commands over one connection, in order, and returns the last
// reply. It speaks RESP itself: the harness needs no more than PING, SELECT and
// FLUSHDB, and a client library would have to be kept in step with the one the
// code under test uses.
func redisDo(ctx context.Context, addr string, cmds ...[]string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	br := bufio.NewReader(conn)
	var reply string
	for _, cmd := range cmds {
		if _, err := io.WriteString(conn, encodeRESP(cmd)); err != nil {
			return "", err
		}
		if reply, err = readRESP(br); err != nil {
			return "", fmt.Errorf("%s: %w", cmd[0], err)
		}
	}
	return reply, nil
}

func encodeRESP(cmd []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(cmd))
	for _, a := range cmd {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// errRedisNil is a nil bulk string: GET of a missing key.
var errRedisNil = errors.New("redis: nil")

// readRESP reads one simple string, error, integer or bulk string reply.
func readRESP(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redis: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New("redis: " + line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return "", errRedisNil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("redis: unsupported reply %q", line)
	}
}
