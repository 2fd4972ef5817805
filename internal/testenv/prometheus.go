package testenv

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PrometheusOptions configures a Prometheus started by StartPrometheus. The zero
// value is a Prometheus with no targets, rules or history.
type PrometheusOptions struct {
	// ScrapeInterval is both the scrape and the rule evaluation interval;
	// zero means 1s, so tests see scraped data and rule results quickly.
	ScrapeInterval time.Duration
	// Targets are host:port addresses whose /metrics is scraped, as job
	// "testenv". The first scrape comes some 5s after start, whatever the
	// interval: Prometheus 2 passes discovered targets on at most every 5s.
	Targets []string
	// RuleFiles are recording and alerting rule files to load.
	RuleFiles []string
	// Alertmanagers are base URLs (e.g. AlertmanagerServer.URL) firing alerts go to.
	Alertmanagers []string
	// History is written into the TSDB before Prometheus starts, so queries
	// over the past see it.
	History []Series
}

// Series is one time series to backfill.
//
// It carries no metric type: backfilled blocks, like all TSDB blocks, store
// only labels and samples.
type Series struct {
	// Metric is the metric name, e.g. "http_requests_total".
	Metric string
	// Labels are the series' labels other than the name.
	Labels map[string]string
	// Samples are the series' values, in any order.
	Samples []Sample
}

// Sample is a value at a time. Backfilled timestamps keep millisecond
// precision, as Prometheus does.
type Sample struct {
	T time.Time
	V float64
}

// VectorSample is one series of an instant query's result.
type VectorSample struct {
	// Labels include the metric name (__name__) where the result keeps it.
	Labels map[string]string
	Sample
}

// Samples evaluates f from start to end, both included, every step: for
// example a gauge over the last two hours, one sample a minute.
func Samples(start, end time.Time, step time.Duration, f func(time.Time) float64) []Sample {
	if step <= 0 {
		panic("testenv.Samples: step must be positive")
	}
	var out []Sample
	for at := start; !at.After(end); at = at.Add(step) {
		out = append(out, Sample{T: at, V: f(at)})
	}
	return out
}

// PrometheusServer is a Prometheus server with the admin and lifecycle APIs
// enabled.
type PrometheusServer struct {
	url string
}

// StartPrometheus starts a Prometheus for this test alone, since its targets,
// rules and history belong to the test, and stops it when the test ends.
func StartPrometheus(t testing.TB, opts PrometheusOptions) *PrometheusServer {
	t.Helper()
	prometheus := lookTool(t, "prometheus", "prometheus (package prometheus)")
	if prometheus == "" {
		return nil
	}
	var promtool string
	if len(opts.History) > 0 {
		if promtool = Promtool(t); promtool == "" {
			return nil
		}
	}
	began := time.Now()
	s, err := newServer("prometheus")
	if err != nil {
		t.Fatalf("testenv: start Prometheus: %v", err)
	}
	t.Cleanup(s.close)
	p, err := launchPrometheus(s, prometheus, promtool, opts)
	if err != nil {
		t.Fatalf("testenv: start Prometheus: %v", err)
	}
	logStart(t, "Prometheus", p.url, began)
	return p
}

func launchPrometheus(s *server, prometheus, promtool string, opts PrometheusOptions) (*PrometheusServer, error) {
	ctx, cancel := startContext()
	defer cancel()
	configPath := filepath.Join(s.dir, "prometheus.yml")
	config, err := prometheusConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		return nil, err
	}
	tsdb := filepath.Join(s.dir, "data")
	if err := os.Mkdir(tsdb, 0o755); err != nil {
		return nil, err
	}
	if len(opts.History) > 0 {
		if err := backfill(ctx, promtool, s.dir, tsdb, opts.History); err != nil {
			return nil, err
		}
	}
	return withFreePort(func(port int) (*PrometheusServer, error) {
		base := "http://" + hostPort(port)
		proc, err := startServer(ctx, command{
			name: "prometheus",
			path: prometheus,
			args: []string{
				"--config.file=" + configPath,
				"--storage.tsdb.path=" + tsdb,
				// Retention counts back from the newest block: without a long
				// one, history older than 15 days would be deleted at start.
				"--storage.tsdb.retention.time=10y",
				"--web.listen-address=" + hostPort(port),
				"--web.enable-admin-api",
				"--web.enable-lifecycle",
			},
			dir: s.dir,
		}, func(ctx context.Context) error { return httpReady(ctx, base+"/-/ready") })
		if err != nil {
			return nil, err
		}
		s.proc = proc
		return &PrometheusServer{url: base}, nil
	})
}

// prometheusConfig renders prometheus.yml. It is JSON, which YAML parsers
// accept, so that no value needs YAML quoting rules.
func prometheusConfig(opts PrometheusOptions) ([]byte, error) {
	interval := opts.ScrapeInterval
	if interval <= 0 {
		interval = time.Second
	}
	// Prometheus durations know "1500ms" but not Go's "1.5s".
	every := strconv.FormatInt(interval.Milliseconds(), 10) + "ms"
	type obj = map[string]any
	config := obj{"global": obj{"scrape_interval": every, "evaluation_interval": every}}
	var rules []string
	for _, f := range opts.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		rules = append(rules, abs)
	}
	if len(rules) > 0 {
		config["rule_files"] = rules
	}
	if len(opts.Targets) > 0 {
		config["scrape_configs"] = []obj{{
			"job_name":       "testenv",
			"static_configs": []obj{{"targets": opts.Targets}},
		}}
	}
	var ams []obj
	for _, raw := range opts.Alertmanagers {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("alertmanager %q: want a base URL such as http://127.0.0.1:9093", raw)
		}
		ams = append(ams, obj{
			"scheme":         u.Scheme,
			"path_prefix":    u.Path,
			"static_configs": []obj{{"targets": []string{u.Host}}},
		})
	}
	if len(ams) > 0 {
		config["alerting"] = obj{"alertmanagers": ams}
	}
	return json.MarshalIndent(config, "", "  ")
}

// backfill writes the series as OpenMetrics and turns them into TSDB blocks
// with promtool, which is how Prometheus imports history.
func backfill(ctx context.Context, promtool, dir, tsdb string, history []Series) error {
	path := filepath.Join(dir, "history.om")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = writeOpenMetrics(w, history)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	_, err = run(ctx, command{
		name: "promtool",
		path: promtool,
		args: []string{"tsdb", "create-blocks-from", "openmetrics", path, tsdb},
		dir:  dir,
	})
	return err
}

// writeOpenMetrics writes series in the OpenMetrics text format as promtool
// reads it: timestamps in seconds, each series' samples in time order, and a
// final "# EOF", without which promtool rejects the file. Families stay
// together; no # TYPE lines, since blocks would not keep the type anyway.
func writeOpenMetrics(w io.Writer, history []Series) error {
	byMetric := slices.SortedStableFunc(slices.Values(history), func(a, b Series) int {
		return cmp.Compare(a.Metric, b.Metric)
	})
	for _, s := range byMetric {
		if s.Metric == "" {
			return errors.New("series without a metric name")
		}
		labels := formatLabels(s.Labels)
		samples := slices.SortedFunc(slices.Values(s.Samples), func(a, b Sample) int {
			return a.T.Compare(b.T)
		})
		for _, smp := range samples {
			ts := strconv.FormatFloat(float64(smp.T.UnixMilli())/1000, 'f', 3, 64)
			if _, err := fmt.Fprintf(w, "%s%s %s %s\n", s.Metric, labels, formatValue(smp.V), ts); err != nil {
				return err
			}
		}
	}
	_, err := io.WriteString(w, "# EOF\n")
	return err
}

func formatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[name]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// formatValue spells infinities as OpenMetrics does ("+Inf", "-Inf", "NaN").
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// URL returns the server's base URL, e.g. http://127.0.0.1:40123.
func (p *PrometheusServer) URL() string { return p.url }

// Query evaluates an instant query at a time and returns a vector's series, or
// a scalar as one sample without labels.
func (p *PrometheusServer) Query(ctx context.Context, promql string, at time.Time) ([]VectorSample, error) {
	form := url.Values{
		"query": {promql},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", promql, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", promql, resp.Status, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var vector []struct {
			Metric map[string]string `json:"metric"`
			Value  promValue         `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &vector); err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		out := make([]VectorSample, 0, len(vector))
		for _, v := range vector {
			out = append(out, VectorSample{Labels: v.Metric, Sample: Sample(v.Value)})
		}
		return out, nil
	case "scalar":
		var v promValue
		if err := json.Unmarshal(body.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		return []VectorSample{{Sample: Sample(v)}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %q is not supported", promql, body.Data.ResultType)
	}
}

// promValue is the API's [unix seconds, "value"] pair.
type promValue Sample

func (v *promValue) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	var secs float64
	if err := json.Unmarshal(pair[0], &secs); err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	v.T = time.UnixMilli(int64(math.Round(secs * 1000)))
	v.V = f
	return nil
}

// httpReady succeeds once url answers 200, as /-/ready does once the server
// has loaded its data and configuration.
func httpReady(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
