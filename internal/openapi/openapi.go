// Package openapi builds an OpenAPI 3.1 document from a table of
// operations whose bodies are Go types: the schemas come from the types by
// reflection, following encoding/json's rules (tags, omitempty, embedded
// structs), so that the document cannot drift from the JSON on the wire.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Operation is one route of the API.
type Operation struct {
	Method string // GET, POST, ...
	// Path is the OpenAPI path template: /v1/jobs/{id}.
	Path    string
	Summary string
	// Security names the token scope the route needs ("read", "publish",
	// "admin", "operator"); empty: no token.
	Security string
	Query    []Param
	// Request is a value of the JSON body's type; nil: no body. Raw bodies
	// (a .deb) set RequestType instead.
	Request     any
	RequestType string
	// Status is the success status; Response a value of its JSON body's
	// type (nil: no body), or ResponseType for a body that is not JSON.
	Status       int
	Response     any
	ResponseType string
}

// Param is a query parameter.
type Param struct {
	Name, Description string
}

// Info is the document's title, version and description.
type Info struct {
	Title, Version, Description string
}

type object = map[string]any

// Build returns the document, indented, with a trailing newline. errorBody
// is the type of every error answer's body.
func Build(info Info, ops []Operation, errorBody any) ([]byte, error) {
	g := &generator{schemas: object{}, names: map[string]reflect.Type{}}
	errRef, err := g.schema(reflect.TypeOf(errorBody))
	if err != nil {
		return nil, err
	}
	paths := object{}
	for _, op := range ops {
		item, _ := paths[op.Path].(object)
		if item == nil {
			item = object{}
			paths[op.Path] = item
		}
		method := strings.ToLower(op.Method)
		if _, dup := item[method]; dup {
			return nil, fmt.Errorf("%s %s is listed twice", op.Method, op.Path)
		}
		o, err := g.operation(op, errRef)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Method, op.Path, err)
		}
		item[method] = o
	}
	doc := object{
		"openapi": "3.1.0",
		"info":    object{"title": info.Title, "version": info.Version, "description": info.Description},
		"paths":   paths,
		"components": object{
			"schemas": g.schemas,
			"securitySchemes": object{
				"token": object{"type": "http", "scheme": "bearer",
					"description": "an API token (aptq token create); the route's x-scope names the scope it needs"},
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var pathParam = regexp.MustCompile(`\{([a-z_0-9]+)\}`)

func (g *generator) operation(op Operation, errRef object) (object, error) {
	o := object{"summary": op.Summary, "operationId": operationID(op)}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(op.Path, -1) {
		params = append(params, object{"name": m[1], "in": "path", "required": true, "schema": object{"type": "string"}})
	}
	for _, q := range op.Query {
		params = append(params, object{"name": q.Name, "in": "query", "description": q.Description,
			"schema": object{"type": "string"}})
	}
	if params != nil {
		o["parameters"] = params
	}
	switch {
	case op.Request != nil:
		s, err := g.schema(reflect.TypeOf(op.Request))
		if err != nil {
			return nil, err
		}
		o["requestBody"] = object{"required": true, "content": object{"application/json": object{"schema": s}}}
	case op.RequestType != "":
		o["requestBody"] = object{"required": true, "content": object{op.RequestType: object{}}}
	}
	ok := object{"description": statusText(op.Status)}
	switch {
	case op.Response != nil:
		s, err := g.schema(reflect.TypeOf(op.Response))
		if err != nil {
			return nil, err
		}
		ok["content"] = object{"application/json": object{"schema": s}}
	case op.ResponseType != "":
		ok["content"] = object{op.ResponseType: object{}}
	}
	errResp := object{"description": "an error: code, message and details", "content": object{"application/json": object{"schema": errRef}}}
	if op.Method == "HEAD" {
		errResp = object{"description": "an error (no body)"}
	}
	o["responses"] = object{strconv.Itoa(op.Status): ok, "default": errResp}
	if op.Security != "" {
		o["security"] = []any{object{"token": []any{}}}
		o["x-scope"] = op.Security
	} else {
		o["security"] = []any{}
	}
	return o, nil
}

// operationID is the method and the path's words: get_v1_jobs_id.
func operationID(op Operation) string {
	id := strings.ToLower(op.Method)
	for _, part := range strings.FieldsFunc(op.Path, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
		id += "_" + part
	}
	return id
}

func statusText(status int) string {
	switch status {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 303:
		return "See Other"
	}
	return strconv.Itoa(status)
}

type generator struct {
	schemas object
	names   map[string]reflect.Type
}

var timeType = reflect.TypeOf(time.Time{})

// schema returns the schema of t: a $ref for named structs (defined once
// under components), inline for the rest.
func (g *generator) schema(t reflect.Type) (object, error) {
	switch {
	case t == timeType:
		return object{"type": "string", "format": "date-time"}, nil
	case t.Kind() == reflect.Pointer:
		inner, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return nullable(inner), nil
	}
	switch t.Kind() {
	case reflect.String:
		return object{"type": "string"}, nil
	case reflect.Bool:
		return object{"type": "boolean"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return object{"type": "integer", "format": "int32"}, nil
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return object{"type": "integer", "format": "int64"}, nil
	case reflect.Float32, reflect.Float64:
		return object{"type": "number"}, nil
	case reflect.Interface:
		return object{}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return object{"type": "string", "contentEncoding": "base64"}, nil
		}
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return object{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%v: only string-keyed maps are JSON objects", t)
		}
		values, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return object{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		return g.structRef(t)
	}
	return nil, fmt.Errorf("%v: no JSON schema for kind %v", t, t.Kind())
}

func (g *generator) structRef(t reflect.Type) (object, error) {
	name := t.Name()
	if name == "" {
		return nil, fmt.Errorf("%v: an anonymous struct has no name to define it under; use a named type", t)
	}
	ref := object{"$ref": "#/components/schemas/" + name}
	if seen, ok := g.names[name]; ok {
		if seen != t {
			return nil, fmt.Errorf("two types named %s: %v and %v", name, seen, t)
		}
		return ref, nil
	}
	g.names[name] = t
	props, required := object{}, []string{}
	if err := g.fields(t, props, &required); err != nil {
		return nil, err
	}
	s := object{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	g.schemas[name] = s
	return ref, nil
}

// fields adds t's JSON fields as encoding/json writes them: exported, the
// tag's name, embedded structs' fields in place. A field without omitempty
// is always written, hence required; a pointer, slice or map one may be null.
func (g *generator) fields(t reflect.Type, props object, required *[]string) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := g.fields(f.Type, props, required); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		s, err := g.schema(f.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		omitempty := strings.Contains(","+opts+",", ",omitempty,")
		if !omitempty {
			*required = append(*required, name)
			if k := f.Type.Kind(); k == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 || k == reflect.Map {
				s = nullable(s)
			}
		}
		props[name] = s
	}
	return nil
}

// nullable lets s be null too (OpenAPI 3.1: JSON Schema's type list).
func nullable(s object) object {
	if t, ok := s["type"].(string); ok {
		out := object{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{t, "null"}
		return out
	}
	return object{"anyOf": []any{s, object{"type": "null"}}}
}
