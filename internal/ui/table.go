package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
)

// TablePrinter prints rows: on a terminal, an aligned table with upper-case
// headers fitted to the terminal width; piped, tab-separated rows without a
// header so that cut and awk work on them. Cells are sanitised.
type TablePrinter struct {
	io      *IOStreams
	headers []string
	rows    [][]string
}

// NewTablePrinter starts a table with the given column headers.
func NewTablePrinter(s *IOStreams, headers ...string) *TablePrinter {
	return &TablePrinter{io: s, headers: headers}
}

// AddRow adds a row; missing cells are empty, extra cells are an error at Render.
func (t *TablePrinter) AddRow(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = Sanitize(c)
	}
	t.rows = append(t.rows, row)
}

// Render writes the table to w.
func (t *TablePrinter) Render(w io.Writer) error {
	for _, r := range t.rows {
		if len(r) > len(t.headers) {
			return fmt.Errorf("table row has %d cells, header has %d", len(r), len(t.headers))
		}
	}
	if !t.io.IsStdoutTTY() {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	headers := make([]string, len(t.headers))
	for i, h := range t.headers {
		headers[i] = strings.ToUpper(h)
	}
	re := t.io.Renderer()
	headerStyle := re.NewStyle().Bold(true).PaddingRight(2)
	cellStyle := re.NewStyle().PaddingRight(2)
	tbl := table.New().
		Headers(headers...).
		Rows(t.rows...).
		Border(lipgloss.HiddenBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderHeader(false).
		Width(t.io.TerminalWidth()).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return headerStyle
			}
			return cellStyle
		})
	_, err := fmt.Fprintln(w, strings.TrimRight(tbl.String(), "\n"))
	return err
}
