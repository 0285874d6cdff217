package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// joinList is how the CLI prints every list for people ("amd64, arm64"),
// in tables, details and timelines alike.
func joinList(xs []string) string {
	return strings.Join(xs, ", ")
}

// formatValue prints a JSON value of the API (a detail of an error or of a
// timeline event) for people; ok is false for an empty one (null, "", [],
// {}), which is left out rather than shown as <nil> or [].
func formatValue(v any) (s string, ok bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, v != ""
	case float64: // JSON numbers: ids and counts print as integers
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := formatValue(e); ok {
				parts = append(parts, s)
			}
		}
		return joinList(parts), len(parts) > 0
	case []string:
		return joinList(v), len(v) > 0
	case map[string]any:
		parts := formatPairs(v)
		return "{" + strings.Join(parts, "; ") + "}", len(parts) > 0
	}
	return fmt.Sprint(v), true
}

// formatPairs prints the non-empty entries of details as key=value, in
// key order.
func formatPairs(details map[string]any) []string {
	parts := make([]string, 0, len(details))
	for _, k := range slices.Sorted(maps.Keys(details)) {
		if s, ok := formatValue(details[k]); ok {
			parts = append(parts, k+"="+s)
		}
	}
	return parts
}
