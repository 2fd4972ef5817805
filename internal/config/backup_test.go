package config

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

const backupYAML = `backup:
  repository: offsite
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
  recipients_file: recipients.txt
  identity: file:identity.txt
  sources:
    main:
      kind: postgres
      url: postgres://backup:hunter2@db/main
    store:
      kind: embedded
    uploads:
      kind: directory
      path: uploads
  repositories:
    offsite:
      url: s3://bucket/prod
      region: eu-west-1
      endpoint: https://s3.example.com
      path_style: true
      storage_class: STANDARD_IA
      sse: aws:kms
      sse_kms_key_id: key-1
      access_key_id: env:S3_KEY
      secret_access_key: file:s3-secret
      max_retries: 2
  retention:
    keep_last: 3
  metrics:
    textfile: metrics/backup.prom
    pushgateway: http://pushgateway:9091
  notify:
    slack_webhook: env:SLACK_HOOK
    email:
      smtp_addr: smtp.example.com:587
      from: backup@example.com
      to: [ops@example.com]
      username: backup
      password: env:SMTP_PASSWORD
`

func TestBackupConfig(t *testing.T) {
	dir := isolate(t)
	p := writeFile(t, dir, "cfg.yaml", backupYAML)
	cfg, err := Load(LoadOptions{File: p})
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Backup
	if b.Repository != "offsite" || len(b.Recipients) != 1 || b.Retention.KeepLast != 3 || b.Retention.KeepDays != 30 || b.CompressionLevel != 3 {
		t.Errorf("backup = %+v", b)
	}
	if s := b.Sources["main"]; s.Kind != "postgres" || s.URL.Redacted() != "<redacted>" {
		t.Errorf("sources.main = %+v", s)
	}
	if s := b.Sources["uploads"]; s.Path != filepath.Join(dir, "uploads") {
		t.Errorf("sources.uploads.path = %q, want it relative to the config file", s.Path)
	}
	r := b.Repositories["offsite"]
	if !r.PathStyle || r.MaxRetries != 2 || r.SSE != "aws:kms" || string(r.SecretAccessKey) != "file:"+filepath.Join(dir, "s3-secret") {
		t.Errorf("repositories.offsite = %+v", r)
	}
	if b.Metrics.Textfile != filepath.Join(dir, "metrics", "backup.prom") || string(b.Identity) != "file:"+filepath.Join(dir, "identity.txt") ||
		b.RecipientsFile != filepath.Join(dir, "recipients.txt") {
		t.Errorf("paths not relative to the config file: %+v", b)
	}
	if !b.Notify.Email.Enabled() || b.Notify.Email.To[0] != "ops@example.com" {
		t.Errorf("notify.email = %+v", b.Notify.Email)
	}
	// config show: shaped like the file, secrets redacted.
	js, err := json.Marshal(cfg.Tree())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "hunter2") || !strings.Contains(string(js), `"kind":"postgres"`) || !strings.Contains(string(js), `"url":"\u003credacted\u003e"`) {
		t.Errorf("config tree: %s", js)
	}
}

func TestBackupConfigErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
		notWant    string
	}{
		{"unknown source kind", "backup:\n  sources:\n    x:\n      kind: mysql\n",
			[]string{`backup.sources.x.kind: "mysql" is not a source kind`, "cfg.yaml:4"}, ""},
		{"postgres without url", "backup:\n  sources:\n    x:\n      kind: postgres\n",
			[]string{"backup.sources.x.url: a postgres source needs url"}, ""},
		{"misspelt source field", "backup:\n  sources:\n    x:\n      kind: directory\n      pth: /srv\n",
			[]string{"backup.sources.x.pth: unknown key", "cfg.yaml:5", "backup.sources.x.path: a directory source needs path"}, ""},
		{"misspelt repository field", "backup:\n  repositories:\n    r:\n      url: s3://b/p\n      secret_acess_key: x\n",
			[]string{"backup.repositories.r.secret_acess_key: unknown key"}, ""},
		{"repository URL with credentials", "backup:\n  repositories:\n    r:\n      url: s3://AKIA:topsecret@b/p\n",
			[]string{"backup.repositories.r.url: credentials do not belong in the URL"}, "topsecret"},
		{"half the S3 keys", "backup:\n  repositories:\n    r:\n      url: s3://b/p\n      access_key_id: env:K\n",
			[]string{"access_key_id and secret_access_key go together"}, ""},
		{"a secret typed as a number is not echoed", "backup:\n  repositories:\n    r:\n      url: s3://b/p\n      access_key_id: 123456789\n      secret_access_key: x\n",
			[]string{"access_key_id: expected a string", "cfg.yaml:5"}, "123456789"},
		{"an identity as a recipient", "backup:\n  recipients: [AGE-SECRET-KEY-1QQQ]\n",
			[]string{"backup.recipients: holds a secret identity"}, "AGE-SECRET-KEY-1QQQ"},
		{"bad pushgateway", "backup:\n  metrics:\n    pushgateway: pushgateway:9091\n",
			[]string{"backup.metrics.pushgateway:"}, ""},
		{"half an email setup", "backup:\n  notify:\n    email:\n      smtp_addr: smtp.example.com\n",
			[]string{"backup.notify.email.smtp_addr:", "backup.notify.email.from:", "backup.notify.email.to: no recipients"}, ""},
		{"negative retention", "backup:\n  retention:\n    keep_days: -1\n",
			[]string{"backup.retention.keep_days: must not be negative"}, ""},
		{"compression level", "backup:\n  compression_level: 23\n",
			[]string{"backup.compression_level: must be from 1 to 22"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			p := writeFile(t, dir, "cfg.yaml", tt.file)
			_, err := Load(LoadOptions{File: p})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q leaks %q", err, tt.notWant)
			}
		})
	}
}

func TestBackupKeysFromTheEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("REPAIRX_BACKUP_NOTIFY_EMAIL_TO", "a@example.com, b@example.com")
	t.Setenv("REPAIRX_BACKUP_NOTIFY_EMAIL_SMTP_ADDR", "smtp.example.com:587")
	t.Setenv("REPAIRX_BACKUP_NOTIFY_EMAIL_FROM", "backup@example.com")
	t.Setenv("REPAIRX_BACKUP_RETENTION_KEEP_LAST", "7")
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Backup.Notify.Email.To; len(got) != 2 || got[1] != "b@example.com" || cfg.Backup.Retention.KeepLast != 7 {
		t.Errorf("email.to = %q, keep_last = %d", got, cfg.Backup.Retention.KeepLast)
	}
}
