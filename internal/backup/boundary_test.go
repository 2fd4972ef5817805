package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDomainBoundary: the package never prints and knows nothing of the CLI.
func TestDomainBoundary(t *testing.T) {
	t.Parallel()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Skipf("no go command to list dependencies with: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v: %s", err, out)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"github.com/spf13/", "github.com/charmbracelet/", "github.com/muesli/", "/internal/commands", "/internal/ui"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the backup package depends on %s", dep)
			}
		}
	}
	printing := regexp.MustCompile(`\bos\.(Stdout|Stderr)\b|\bfmt\.Print|\blog\.|\bslog\.|os\.Exit`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if printing.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d prints or exits: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
