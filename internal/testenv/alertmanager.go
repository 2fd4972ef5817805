package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DefaultAlertmanagerConfig routes every alert to a receiver that notifies
// nobody: alerts are only kept, for tests to read back through the API.
const DefaultAlertmanagerConfig = `route:
  receiver: "null"
receivers:
  - name: "null"
`

// AlertmanagerServer is a single Alertmanager, not part of a cluster.
type AlertmanagerServer struct {
	url string
}

// Alertmanager returns the package's shared Alertmanager, configured with
// DefaultAlertmanagerConfig and started on first use. Tests isolate themselves
// by labels of their own on the alerts they send.
func Alertmanager(t testing.TB) *AlertmanagerServer {
	t.Helper()
	requireMain(t)
	path := lookAlertmanager(t)
	if path == "" {
		return nil
	}
	began, started := time.Now(), false
	am, err := shared.alertmanager.get(func() (*AlertmanagerServer, error) {
		started = true
		s, err := newServer("alertmanager")
		if err != nil {
			return nil, err
		}
		am, err := launchAlertmanager(s, path, DefaultAlertmanagerConfig)
		if err != nil {
			s.close()
		}
		return am, err
	})
	if err != nil {
		t.Fatalf("testenv: start Alertmanager: %v", err)
	}
	if started {
		logStart(t, "Alertmanager", am.url, began)
	}
	return am
}

// StartAlertmanager starts an Alertmanager with the given configuration (YAML)
// for this test alone and stops it when the test ends.
func StartAlertmanager(t testing.TB, config string) *AlertmanagerServer {
	t.Helper()
	path := lookAlertmanager(t)
	if path == "" {
		return nil
	}
	began := time.Now()
	s, err := newServer("alertmanager")
	if err != nil {
		t.Fatalf("testenv: start Alertmanager: %v", err)
	}
	t.Cleanup(s.close)
	am, err := launchAlertmanager(s, path, config)
	if err != nil {
		t.Fatalf("testenv: start Alertmanager: %v", err)
	}
	logStart(t, "Alertmanager", am.url, began)
	return am
}

// lookAlertmanager finds Debian's binary, which is named after its package.
func lookAlertmanager(t testing.TB) string {
	t.Helper()
	return lookTool(t, "prometheus-alertmanager", "prometheus-alertmanager (package prometheus-alertmanager)")
}

func launchAlertmanager(s *server, path, config string) (*AlertmanagerServer, error) {
	configPath := filepath.Join(s.dir, "alertmanager.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	storage := filepath.Join(s.dir, "data")
	if err := os.Mkdir(storage, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := startContext()
	defer cancel()
	return withFreePort(func(port int) (*AlertmanagerServer, error) {
		base := "http://" + hostPort(port)
		proc, err := startServer(ctx, command{
			name: "alertmanager",
			path: path,
			args: []string{
				"--config.file=" + configPath,
				"--storage.path=" + storage,
				"--web.listen-address=" + hostPort(port),
				// Empty disables clustering; by default it binds 0.0.0.0:9094,
				// which two test binaries cannot both have.
				"--cluster.listen-address=",
			},
			dir: s.dir,
		}, func(ctx context.Context) error { return httpReady(ctx, base+"/-/ready") })
		if err != nil {
			return nil, err
		}
		s.proc = proc
		return &AlertmanagerServer{url: base}, nil
	})
}

// URL returns the server's base URL, e.g. http://127.0.0.1:40123; the API
// lives under /api/v2.
func (am *AlertmanagerServer) URL() string { return am.url }
