package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain error", base, Failure},
		{"usage", Usagef("bad flag %q", "--x"), Usage},
		{"wrapped usage", fmt.Errorf("loading: %w", Usagef("bad")), Usage},
		{"findings", Findingsf("2 errors"), Findings},
		{"locked", New(Locked, base), Locked},
		{"cancelled", fmt.Errorf("run: %w", context.Canceled), Interrupted},
		{"explicit code wins over cancel", New(TempFail, context.Canceled), TempFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestNewNil(t *testing.T) {
	if err := New(Failure, nil); err != nil {
		t.Fatalf("New(1, nil) = %v, want nil", err)
	}
}

func TestSilent(t *testing.T) {
	if !IsSilent(fmt.Errorf("x: %w", Findingsf("y"))) {
		t.Error("findings error should be silent")
	}
	if IsSilent(Usagef("y")) {
		t.Error("usage error should not be silent")
	}
}

func TestTableSortedAndUnique(t *testing.T) {
	seen := map[int]bool{}
	for i, row := range Table {
		if seen[row.Code] {
			t.Errorf("code %d listed twice", row.Code)
		}
		seen[row.Code] = true
		if i > 0 && Table[i-1].Code >= row.Code {
			t.Errorf("table not ascending at %d", row.Code)
		}
	}
}
