package netsim

import (
	"slices"
)

// maxDiffCells bounds the memory of the line diff's table (cells of int32);
// larger sections fall back to an order-blind comparison.
const maxDiffCells = 4 << 20

// lineDiff returns the differences between a and b as whole lines: "- line"
// only in a, "+ line" only in b, each run of changes preceded by one
// unchanged line of context ("  line") and runs separated by "  ...".
// It returns nil when a and b are equal.
func lineDiff(a, b []string) []string {
	if slices.Equal(a, b) {
		return nil
	}
	if len(a)*len(b) > maxDiffCells {
		return multisetDiff(a, b)
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:], b[j:].
	w := len(b) + 1
	lcs := make([]int32, (len(a)+1)*w)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var out []string
	last, gap := "", 0 // the latest unchanged line and how many since a change
	emit := func(line string) {
		if gap > 0 {
			if len(out) > 0 && gap > 1 {
				out = append(out, "  ...")
			}
			out = append(out, "  "+last)
		}
		out = append(out, line)
		gap = 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			last = a[i]
			gap++
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			emit("- " + a[i])
			i++
		default:
			emit("+ " + b[j])
			j++
		}
	}
	return out
}

// multisetDiff compares a and b as bags of lines, ignoring order.
func multisetDiff(a, b []string) []string {
	count := map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	out := []string{"  (section too large to compare order; lines that differ in number)"}
	for _, l := range a {
		if count[l] > 0 {
			out = append(out, "- "+l)
			count[l]--
		}
	}
	for _, l := range b {
		if count[l] < 0 {
			out = append(out, "+ "+l)
			count[l]++
		}
	}
	if len(out) == 1 {
		out = append(out, "  (same lines in another order)")
	}
	return out
}
