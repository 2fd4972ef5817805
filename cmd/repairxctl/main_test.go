package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseBuild builds the binary as the Makefile and .goreleaser.yaml
// do (CGO off, -trimpath, version stamped through -ldflags -X) and checks
// that `version` reports the stamp and that the binary is static.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "repairxctl")
	pkg := "github.com/repairx/repairxctl/internal/version"
	ldflags := "-s -w -X " + pkg + ".version=9.8.7 -X " + pkg + ".commit=0123abc -X " + pkg + ".date=2026-11-23T02:00:00Z"
	build := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("repairxctl version: %v", err)
	}
	var info struct {
		Version, Commit, Date string
		GoVersion             string `json:"go_version"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("version -o json is not JSON: %v\n%s", err, out)
	}
	if info.Version != "9.8.7" || info.Commit != "0123abc" || info.Date != "2026-11-23T02:00:00Z" || !strings.HasPrefix(info.GoVersion, "go1.") {
		t.Errorf("stamp not reported: %+v", info)
	}

	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	if !strings.Contains(string(meta), "CGO_ENABLED=0") {
		t.Errorf("binary not built with CGO_ENABLED=0:\n%s", meta)
	}
}
