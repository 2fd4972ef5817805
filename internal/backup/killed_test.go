package backup_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/backup/repo"
	"github.com/repairx/repairxctl/internal/backup/repo/repotest"
	"github.com/repairx/repairxctl/internal/testenv"
)

// The helper process of TestKilledMidRun: a backup that runs until killed.
// Its repository comes from the environment.
func TestHelperKilledRun(t *testing.T) {
	url := os.Getenv("BACKUP_HELPER_REPO")
	if url == "" {
		t.Skip("a helper process of TestKilledMidRun")
	}
	r, err := repo.Open(context.Background(), url, repo.Options{
		Region: os.Getenv("BACKUP_HELPER_REGION"), Endpoint: os.Getenv("BACKUP_HELPER_ENDPOINT"), PathStyle: true,
		AccessKeyID: os.Getenv("BACKUP_HELPER_KEY"), SecretAccessKey: os.Getenv("BACKUP_HELPER_SECRET"),
	})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	rec := &recorder{}
	announced := false
	rec.onBytes = func(n int64) {
		if n > 40<<20 && !announced {
			announced = true
			fmt.Println("uploading") // the parent kills us now
		}
	}
	_, err = backup.Run(context.Background(), r, &genSource{name: "victim", size: 8 << 30}, backup.RunOptions{
		Encryption: backup.Encryption{Unencrypted: true}, Reporter: rec,
	})
	fmt.Println("finished:", err) // never reached in the test
	os.Exit(3)
}

// TestKilledMidRun kills a backing-up process with SIGKILL, mid-upload: no
// object looks complete, the next run breaks the dead process's lock, and
// prune removes what the upload left.
func TestKilledMidRun(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"file", "s3"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := os.Environ()
			var r repo.Repository
			if name == "file" {
				var dir string
				r, dir = repotest.OpenFile(t)
				env = append(env, "BACKUP_HELPER_REPO=file://"+dir)
			} else {
				srv := testenv.S3(t)
				r = s3Repo(t)
				env = append(env, "BACKUP_HELPER_REPO="+r.URL(), "BACKUP_HELPER_REGION="+srv.Region(),
					"BACKUP_HELPER_ENDPOINT="+srv.Endpoint(), "BACKUP_HELPER_KEY="+srv.AccessKey(), "BACKUP_HELPER_SECRET="+srv.SecretKey())
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledRun$", "-test.count=1")
			cmd.Env = env
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			sc := bufio.NewScanner(stdout)
			lines := make(chan string)
			go func() {
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			select {
			case l := <-lines:
				if l != "uploading" {
					t.Fatalf("helper said %q", l)
				}
			case <-time.After(2 * time.Minute):
				t.Fatal("the helper never started uploading")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			// Nothing looks complete.
			for _, k := range keys(t, r, "") {
				if strings.HasSuffix(k, "manifest.json") || strings.Contains(k, "/data.zst") {
					t.Errorf("the killed run left %s", k)
				}
			}
			entries, err := backup.List(t.Context(), r, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Complete() {
					t.Errorf("a killed run left a complete backup: %+v", e)
				}
			}
			holder, err := backup.ReadLock(t.Context(), r, "victim")
			if err != nil || holder.PID != cmd.Process.Pid {
				t.Fatalf("lock = %+v, %v; want held by the killed pid %d", holder, err, cmd.Process.Pid)
			}

			// The next run breaks the dead process's lock.
			res, err := backup.Run(t.Context(), r, &memSource{name: "victim", data: []byte("x")}, backup.RunOptions{Encryption: backup.Encryption{Unencrypted: true}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "process "+strconv.Itoa(cmd.Process.Pid)+" on this host is gone") {
				t.Errorf("warnings = %q", res.Warnings)
			}
			// Prune removes the abandoned upload.
			pr, err := backup.Prune(t.Context(), r, "victim", backup.Policy{KeepLast: 1, IncompleteGrace: time.Millisecond}, time.Now(), false)
			if err != nil {
				t.Fatal(err)
			}
			if name == "s3" && pr.AbortedUploads != 1 {
				t.Errorf("aborted %d uploads, want the killed run's multipart upload", pr.AbortedUploads)
			}
			if n, err := r.AbortIncomplete(t.Context(), "", 0); err != nil || n != 0 {
				t.Errorf("leftovers after prune: %d, %v", n, err)
			}
			if _, err := backup.ReadLock(t.Context(), r, "victim"); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("lock: %v", err)
			}
		})
	}
}
