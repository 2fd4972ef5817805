package commands

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/repairx/repairxctl/internal/atomicfile"
	"github.com/repairx/repairxctl/internal/backup"
	"github.com/repairx/repairxctl/internal/config"
	"github.com/repairx/repairxctl/internal/exitcode"
	"github.com/repairx/repairxctl/internal/ui"
)

// BackupKeygenOptions are the inputs of `backup keygen`.
type BackupKeygenOptions struct {
	IO      *ui.IOStreams
	Config  func() (*config.Config, error)
	Printer func(*config.Config) (*ui.Printer, error)
	Now     func() time.Time

	Out   string
	Force bool
}

type backupKeygenResult struct {
	FormatVersion int       `json:"format_version"`
	Recipient     string    `json:"recipient"`
	IdentityFile  string    `json:"identity_file"`
	CreatedAt     time.Time `json:"created_at"`
}

func newBackupKeygenCmd(f *Factory, runF func(*BackupKeygenOptions) error) *cobra.Command {
	opts := &BackupKeygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen --out FILE [--force]",
		Short: "Create the age key pair backups are encrypted to",
		Long: `Create an age X25519 key pair: write the identity (the secret key) to FILE
with mode 0600, and print its recipient (the public key, age1...) on stdout.

Run it on a safe host, not on the one that writes backups. Give the backup
host only the recipient (backup.recipients or --recipient): it can then
write backups but never read them, so a compromised backup host leaks
nothing from past backups. Keep the identity where restores happen (and a
copy offline): without it no backup can be restored. The file is in
age-keygen's format, so the age command line reads it too.

An existing FILE is never overwritten without --force: it may be the only
key to years of backups.

Exit status: 0 written; 2 bad usage, or FILE exists without --force;
1 the file could not be written.`,
		Example: `  # On a safe host: keep backup-identity.txt there, copy the age1... line
  repairxctl backup keygen --out backup-identity.txt

  # The recipient only, for a script
  repairxctl backup keygen --out id.txt -o json | jq -r .recipient`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "-" {
				return exitcode.Usagef("--out -: the identity is a secret and stdout carries the recipient; give a file")
			}
			opts.IO = f.IOStreams
			opts.Config = f.Config
			opts.Printer = func(c *config.Config) (*ui.Printer, error) { return f.Printer(c, ui.Table, ui.JSON, ui.YAML) }
			opts.Now = f.Now
			if runF != nil {
				return runF(opts)
			}
			return backupKeygenRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Out, "out", "", "write the identity (secret key) to `FILE`, mode 0600")
	fl.BoolVar(&opts.Force, "force", false, "overwrite FILE if it exists")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagFilename("out", "txt", "key")
	return cmd
}

func backupKeygenRun(opts *BackupKeygenOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, err := opts.Printer(cfg)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(opts.Out); err == nil && !opts.Force {
		return exitcode.Usagef("%s exists: it may be the only key to existing backups; pass --force to replace it", opts.Out)
	}
	identity, recipient, err := backup.GenerateIdentity()
	if err != nil {
		return err
	}
	created := opts.Now().UTC().Truncate(time.Second)
	if err := writeSecretFile(opts.Out, backup.FormatIdentityFile(identity, recipient, created), opts.Force); err != nil {
		return fmt.Errorf("writing the identity to %s: %w", opts.Out, err)
	}
	res := backupKeygenResult{FormatVersion: 1, Recipient: recipient, IdentityFile: absPath(opts.Out), CreatedAt: created}
	err = p.Print(res, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, recipient)
		return err
	})
	if err != nil {
		return err
	}
	if p.Format == ui.Table && !cfg.Quiet {
		cs := opts.IO.ErrScheme()
		fmt.Fprintf(opts.IO.ErrOut, "%s identity written to %s (mode 0600): keep it off the backup host, and a copy offline\n"+
			"  the recipient above goes into backup.recipients (or --recipient) on the backup host\n",
			cs.Green.Render("✓"), ui.Sanitize(opts.Out))
	}
	return nil
}

// writeSecretFile writes data to path with mode 0600, atomically (see
// atomicfile); without replace an existing path is kept.
func writeSecretFile(path string, data []byte, replace bool) error {
	var err error
	if replace {
		err = atomicfile.Replace(path, data, 0o600)
	} else {
		err = atomicfile.Create(path, data, 0o600)
	}
	if errors.Is(err, fs.ErrExist) {
		return exitcode.Usagef("%s exists: pass --force to replace it", path)
	}
	return err
}
