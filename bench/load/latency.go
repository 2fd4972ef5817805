package main

import (
	"math"
	"slices"
	"time"
)

// Latencies holds every measured request's latency. A run of 15 s at a few
// thousand requests a second is well under a million samples (8 bytes
// each), so keeping them all and sorting once gives exact percentiles with
// no bucket error to explain.
type Latencies []time.Duration

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of a
// sorted Latencies: the smallest sample with at least p% of the samples at
// or below it. It returns 0 for no samples.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	// The epsilon keeps float error from pushing an exact rank up by one
	// (99.9/100*1000 is 999.0000000000001).
	rank := int(math.Ceil(p*float64(len(l))/100 - 1e-9))
	rank = min(max(rank, 1), len(l))
	return l[rank-1]
}

// Mean returns the arithmetic mean, or 0 for no samples.
func (l Latencies) Mean() time.Duration {
	if len(l) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return sum / time.Duration(len(l))
}

// LatencySummary is the latency part of a result, in milliseconds.
type LatencySummary struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize sorts l in place and returns its percentiles.
func (l Latencies) Summarize() LatencySummary {
	slices.Sort(l)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 } // µs precision
	return LatencySummary{
		P50:  ms(l.Percentile(50)),
		P90:  ms(l.Percentile(90)),
		P99:  ms(l.Percentile(99)),
		P999: ms(l.Percentile(99.9)),
		Max:  ms(l.Percentile(100)),
		Mean: ms(l.Mean()),
	}
}
