package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/repairx/repairxctl/internal/atomicfile"
)

// backupRunMetrics is what one `backup run` reports to Prometheus.
type backupRunMetrics struct {
	Source   string
	OK       bool
	Finished time.Time     // the run's end: last_run, and last_success when OK
	Duration time.Duration // the whole run, failed ones included
	Size     int64         // the stored object's size (OK runs only)
}

// The metrics, in the order they are written. Each is a gauge labelled by
// source; a failed run leaves a source's last_success and size as they were.
var backupMetricDefs = []struct {
	name, help string
	onFailure  bool // a failed run sets it too
}{
	{"repairx_backup_last_success_timestamp_seconds", "Unix time the last successful backup of the source finished.", false},
	{"repairx_backup_last_run_timestamp_seconds", "Unix time the last backup run of the source ended, successful or not.", true},
	{"repairx_backup_duration_seconds", "Duration of the last backup run of the source.", true},
	{"repairx_backup_size_bytes", "Stored (compressed, encrypted) size of the last successful backup of the source.", false},
	{"repairx_backup_result", "Result of the last backup run of the source: 1 success, 0 failure.", true},
}

func (m backupRunMetrics) values() map[string]float64 {
	v := map[string]float64{
		"repairx_backup_last_run_timestamp_seconds": unixSeconds(m.Finished),
		"repairx_backup_duration_seconds":           m.Duration.Seconds(),
		"repairx_backup_result":                     0,
	}
	if m.OK {
		v["repairx_backup_result"] = 1
		v["repairx_backup_last_success_timestamp_seconds"] = unixSeconds(m.Finished)
		v["repairx_backup_size_bytes"] = float64(m.Size)
	}
	return v
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// sampleRE matches the samples writeBackupTextfile writes.
var sampleRE = regexp.MustCompile(`^(repairx_backup_[a-z_]+)\{source="([A-Za-z0-9._-]+)"\} (\S+)$`)

// writeBackupTextfile records m in a node_exporter textfile collector file.
// The file holds every source's metrics: the other sources' samples, and
// this source's last success and size after a failure, are kept. It is
// replaced atomically (a temporary file in the same directory, renamed), so
// node_exporter never reads half a file, and runs of several sources are
// serialised by a lock on the directory. The file belongs to repairxctl:
// lines other than its own metrics are dropped.
func writeBackupTextfile(path string, m backupRunMetrics) error {
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	samples := map[string]map[string]string{} // metric -> source -> value
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		if g := sampleRE.FindStringSubmatch(strings.TrimSpace(sc.Text())); g != nil {
			if samples[g[1]] == nil {
				samples[g[1]] = map[string]string{}
			}
			samples[g[1]][g[2]] = g[3]
		}
	}
	for name, v := range m.values() {
		if samples[name] == nil {
			samples[name] = map[string]string{}
		}
		samples[name][m.Source] = formatFloat(v)
	}

	var b bytes.Buffer
	b.WriteString("# Written by repairxctl backup run; replaced on every run. Do not edit.\n")
	for _, def := range backupMetricDefs {
		bySource := samples[def.name]
		if len(bySource) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", def.name, def.help, def.name)
		sources := make([]string, 0, len(bySource))
		for s := range bySource {
			sources = append(sources, s)
		}
		sort.Strings(sources)
		for _, s := range sources {
			fmt.Fprintf(&b, "%s{source=%q} %s\n", def.name, s, bySource[s])
		}
	}
	// atomicfile's temporary name does not end in .prom: node_exporter skips it.
	return atomicfile.Replace(path, b.Bytes(), 0o644)
}

// pushBackupMetrics sends m to a Pushgateway, grouped under
// job="repairxctl_backup" and the source. A successful run replaces the
// group (PUT); a failed one only replaces the metrics it sets (POST), so the
// Pushgateway keeps the last success's timestamp and size.
func pushBackupMetrics(ctx context.Context, client *http.Client, gateway string, m backupRunMetrics) error {
	u := strings.TrimSuffix(gateway, "/") + "/metrics/job/repairxctl_backup/source/" + url.PathEscape(m.Source)
	var b bytes.Buffer
	values := m.values()
	for _, def := range backupMetricDefs {
		v, ok := values[def.name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", def.name, def.help, def.name, def.name, formatFloat(v))
	}
	method := http.MethodPut
	if !m.OK {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, redactedURL(u), resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// redactedURL hides a URL's password and query (a webhook's token may sit
// in either) for messages.
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery = ""
	return u.Redacted()
}
