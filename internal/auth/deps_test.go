package auth

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package a domain package: no CLI, terminal or
// HTTP libraries, and no printing to the terminal.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"github.com/spf13/", "github.com/charmbracelet/", "net/http", "github.com/repairx/repairxctl/internal/commands"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("internal/auth depends on %s", dep)
			}
		}
	}
}
