package alerts

import (
	"context"
	"testing"
)

// BenchmarkValidateCorpus validates the shared corpus (about 50 files and
// 1,200 rules), the size of a large platform's rule set.
func BenchmarkValidateCorpus(b *testing.B) {
	dir := corpusDir(b)
	ctx := context.Background()
	var rules int
	for b.Loop() {
		r, err := Validate(ctx, []string{dir}, platformOptions())
		if err != nil {
			b.Fatal(err)
		}
		rules = r.Summary.Rules
	}
	b.ReportMetric(float64(rules), "rules/op")
}
