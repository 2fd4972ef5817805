package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type failingSink struct{ calls int }

func (f *failingSink) AppendAudit(context.Context, Event) error {
	f.calls++
	return errors.New("disk full")
}

func TestRecorderWritesEverySinkDespiteFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit.jsonl")
	fs, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	bad := &failingSink{}
	var failed []int
	r := NewRecorder(nil, bad, fs)
	r.OnError = func(i int, err error) { failed = append(failed, i) }

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a client that hung up is still audited
	ts := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	r.Record(ctx, Event{Timestamp: ts, UserID: "u1", IP: "192.0.2.1", Action: ActionLogin, Result: ResultFailure, Details: map[string]any{"reason": "password"}})
	r.Record(ctx, Event{Timestamp: ts, Action: ActionLogout, Result: ResultSuccess})

	if bad.calls != 2 || len(failed) != 2 || failed[0] != 0 {
		t.Fatalf("failing sink calls %d, OnError %v", bad.calls, failed)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %v, want 0600", fi.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2", len(got))
	}
	if got[0]["timestamp"] != "2026-11-23T09:00:00Z" || got[0]["userId"] != "u1" || got[0]["action"] != ActionLogin {
		t.Errorf("first line %v", got[0])
	}
	if _, ok := got[1]["details"]; ok {
		t.Errorf("empty details should be omitted: %v", got[1])
	}
}

func TestFileSinkClosed(t *testing.T) {
	fs, err := OpenFileSink(filepath.Join(t.TempDir(), "a.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	fs.Close()
	if err := fs.AppendAudit(context.Background(), Event{Action: ActionLogin}); err == nil {
		t.Fatal("write after close succeeded")
	}
}
