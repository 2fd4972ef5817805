package commands

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/repairx/repairxctl/internal/testenv"
)

// TestMain lets testscript run the repairxctl binary in-process: the test
// binary re-executes itself as "repairxctl". The tests themselves run under
// testenv.Main, which stops the real servers (PostgreSQL) they start.
func TestMain(m *testing.M) {
	testscript.Main(withServers{m}, map[string]func(){
		"repairxctl": func() { os.Exit(Main()) },
	})
}

// withServers runs the tests through testenv.Main.
type withServers struct{ m *testing.M }

func (w withServers) Run() int { return testenv.Main(w.m) }

// TestScripts runs the end-to-end CLI tests in testdata/script/*.txtar.
// Each script gets an empty HOME and XDG directories, so no config of the
// developer's leaks in, and $REPO pointing at the repository root.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			env.Setenv("REPO", repo)
			env.Setenv("NO_COLOR", "")
			return os.MkdirAll(home, 0o755)
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exitcode": cmdExitcode,
		},
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
	})
}

// cmdExitcode runs a command and checks its exit status: testscript itself
// only knows success and failure, and repairxctl's codes are an interface.
//
//	exitcode N command [args...]
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode (give the code you expect instead)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: running %s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
