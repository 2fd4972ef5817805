package commands

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/repairx/repairxctl/internal/config"
)

// failureText is the notification of a failed run, in plain text. It says
// what failed, where, and what the exit code means; never a secret (the
// error messages of the backup package carry none).
func failureText(rec *backupRunRecord) (subject, body string) {
	subject = fmt.Sprintf("repairxctl backup of %s failed on %s", orUnknown(rec.Source), rec.Host)
	var b strings.Builder
	fmt.Fprintf(&b, "The backup of source %s failed on host %s (exit status %d, %s).\n\n", orUnknown(rec.Source), rec.Host, rec.ExitCode, codeName(rec.ExitCode))
	fmt.Fprintf(&b, "Error: %s\n\n", rec.Error)
	if rec.Repository != "" {
		fmt.Fprintf(&b, "Repository: %s\n", rec.Repository)
	}
	fmt.Fprintf(&b, "Started:    %s\n", rec.StartedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Duration:   %.1fs\n", rec.DurationSeconds)
	if rec.ExitCode == 75 {
		b.WriteString("\nThe repository or database was unreachable: the next run may succeed, but check it.\n")
	}
	return subject, b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown source)"
	}
	return s
}

// slackEscape escapes what Slack's mrkdwn treats as control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// notifySlack posts the failure to a Slack incoming webhook. The webhook URL
// is a secret (whoever has it can post): errors never show it.
func notifySlack(ctx context.Context, client *http.Client, webhook string, rec *backupRunRecord) error {
	u, err := url.Parse(webhook)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("backup.notify.slack_webhook is not an https URL")
	}
	subject, body := failureText(rec)
	payload, err := json.Marshal(map[string]string{"text": ":x: *" + slackEscape(subject) + "*\n" + slackEscape(body)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(payload))
	if err != nil {
		return errors.New("backup.notify.slack_webhook is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the URL
		}
		return fmt.Errorf("posting to the Slack webhook at %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return fmt.Errorf("the Slack webhook at %s answered %s: %s", u.Host, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// notifyEmail mails the failure through the configured SMTP server. The
// connection must be encrypted: STARTTLS (refused if the server does not
// offer it, since the password and the error would cross the network in
// the clear), or implicit TLS on port 465. rootCAs nil means the system's.
func notifyEmail(ctx context.Context, e config.BackupEmail, password string, rootCAs *x509.CertPool, rec *backupRunRecord) error {
	host, port, err := net.SplitHostPort(e.SMTPAddr)
	if err != nil {
		return err
	}
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: rootCAs}
	d := net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	if port == "465" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(ctx, "tcp", e.SMTPAddr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", e.SMTPAddr)
	}
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", e.SMTPAddr, err)
	}
	deadline := time.Now().Add(time.Minute)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP %s: %w", e.SMTPAddr, err)
	}
	defer c.Close()
	if port != "465" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("SMTP %s does not offer STARTTLS: refusing to send in the clear", e.SMTPAddr)
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("SMTP %s: STARTTLS: %w", e.SMTPAddr, err)
		}
	}
	if e.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.Username, password, host)); err != nil {
			return fmt.Errorf("SMTP %s: authentication as %s: %w", e.SMTPAddr, e.Username, err)
		}
	}
	if err := c.Mail(bareAddress(e.From)); err != nil {
		return fmt.Errorf("SMTP %s: MAIL FROM: %w", e.SMTPAddr, err)
	}
	for _, to := range e.To {
		if err := c.Rcpt(bareAddress(to)); err != nil {
			return fmt.Errorf("SMTP %s: RCPT TO %s: %w", e.SMTPAddr, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP %s: DATA: %w", e.SMTPAddr, err)
	}
	subject, body := failureText(rec)
	if _, err := w.Write(mailMessage(e, subject, body, time.Now())); err != nil {
		return fmt.Errorf("SMTP %s: writing the message: %w", e.SMTPAddr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP %s: the server refused the message: %w", e.SMTPAddr, err)
	}
	return c.Quit()
}

// bareAddress returns the address of "Name <addr>" (the config validated it).
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// mailMessage formats a plain-text message (RFC 5322, quoted-printable body).
func mailMessage(e config.BackupEmail, subject, body string, now time.Time) []byte {
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", oneLine.Replace(e.From))
	fmt.Fprintf(&b, "To: %s\r\n", oneLine.Replace(strings.Join(e.To, ", ")))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine.Replace(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
