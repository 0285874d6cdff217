package openapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type errBody struct {
	Code string `json:"code"`
}

type ref struct {
	ID int64 `json:"id"`
}

type sample struct {
	ref
	Name     string            `json:"name"`
	Note     string            `json:"note,omitempty"`
	When     time.Time         `json:"when"`
	Maybe    *ref              `json:"maybe,omitempty"`
	List     []string          `json:"list"`
	Labels   map[string]string `json:"labels,omitempty"`
	Any      map[string]any    `json:"any,omitempty"`
	Hidden   string            `json:"-"`
	internal int               // unexported: never written
}

var _ = sample{}.internal

func build(t *testing.T, ops ...Operation) map[string]any {
	t.Helper()
	data, err := Build(Info{Title: "t", Version: "1"}, ops, errBody{})
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

// Schemas follow encoding/json: tag names, omitempty (not required),
// embedded fields in place, "-" and unexported fields left out, pointers
// and non-omitempty slices nullable.
func TestSchemaFollowsEncodingJSON(t *testing.T) {
	t.Parallel()
	doc := build(t, Operation{Method: "POST", Path: "/v1/things/{id}", Security: "admin",
		Request: sample{}, Status: 201, Response: ref{}})
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	s := schemas["sample"].(map[string]any)
	props := s["properties"].(map[string]any)
	require.ElementsMatch(t, []string{"id", "name", "note", "when", "maybe", "list", "labels", "any"}, keys(props))
	require.Equal(t, []any{"id", "list", "name", "when"}, s["required"])
	require.Equal(t, map[string]any{"type": "string", "format": "date-time"}, props["when"])
	require.Equal(t, map[string]any{"anyOf": []any{map[string]any{"$ref": "#/components/schemas/ref"},
		map[string]any{"type": "null"}}}, props["maybe"])
	require.Equal(t, []any{"array", "null"}, props["list"].(map[string]any)["type"])
	require.Equal(t, map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}, props["labels"])

	op := doc["paths"].(map[string]any)["/v1/things/{id}"].(map[string]any)["post"].(map[string]any)
	require.Equal(t, "admin", op["x-scope"])
	require.Equal(t, "id", op["parameters"].([]any)[0].(map[string]any)["name"])
	require.Contains(t, op["responses"], "201")
	require.Contains(t, schemas, "errBody", "the error body is defined for every operation's default answer")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type other struct{ X int }

// What the document cannot name is refused rather than written wrong.
func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	for name, ops := range map[string][]Operation{
		"anonymous struct": {{Method: "GET", Path: "/a", Status: 200, Response: struct{ A int }{}}},
		"int-keyed map":    {{Method: "GET", Path: "/a", Status: 200, Response: map[int]string{}}},
		"listed twice": {{Method: "GET", Path: "/a", Status: 200, Response: ref{}},
			{Method: "GET", Path: "/a", Status: 200, Response: ref{}}},
		"channel": {{Method: "GET", Path: "/a", Status: 200, Response: make(chan int)}},
	} {
		_, err := Build(Info{}, ops, errBody{})
		require.Error(t, err, name)
	}
	_, err := Build(Info{}, []Operation{{Method: "GET", Path: "/a", Status: 200, Response: other{}}}, errBody{})
	require.NoError(t, err)
}
