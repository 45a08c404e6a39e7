// Command goref is the reference renderer for test/template/differential.test.ts: Go's own
// text/template, fed a JSON array of cases on stdin, answering a JSON array of results on stdout.
// Numbers in data follow the port's value model: an integral JSON number up to 2^53-1 is an int,
// any other number a float64.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"text/template"
	"time"
)

type testCase struct {
	Name     string          `json:"name"`
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
	Options  []string        `json:"options"`
	Delims   []string        `json:"delims"`
	Sprig    bool            `json:"sprig"`
	Secrets  json.RawMessage `json:"secrets"`
	Now      string          `json:"now"`
}

type result struct {
	Output string  `json:"output"`
	Error  *string `json:"error"`
}

// extraFuncs is filled by sprig.go when built with -tags sprig.
var extraFuncs func(now time.Time) template.FuncMap

func decode(raw json.RawMessage) (interface{}, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convert(v), nil
}

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		if f == math.Trunc(f) && math.Abs(f) <= 9007199254740991 {
			return int(f)
		}
		return f
	case []interface{}:
		for i := range x {
			x[i] = convert(x[i])
		}
		return x
	case map[string]interface{}:
		for k := range x {
			x[k] = convert(x[k])
		}
		return x
	}
	return v
}

func run(c testCase) (out string, errText *string) {
	fail := func(err error) (string, *string) {
		s := err.Error()
		return out, &s
	}
	defer func() {
		if r := recover(); r != nil {
			s := fmt.Sprintf("panic: %v", r)
			errText = &s
		}
	}()
	data, err := decode(c.Data)
	if err != nil {
		return fail(err)
	}
	secrets, err := decode(c.Secrets)
	if err != nil {
		return fail(err)
	}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if c.Now != "" {
		if now, err = time.Parse(time.RFC3339Nano, c.Now); err != nil {
			return fail(err)
		}
	}
	t := template.New(c.Name)
	if c.Sprig {
		if extraFuncs == nil {
			s := "goref: built without sprig"
			return "", &s
		}
		t.Funcs(extraFuncs(now.Local()))
	}
	t.Funcs(template.FuncMap{
		"secret": func(project, env, path string, opts ...string) ([]interface{}, error) {
			list, _ := secrets.([]interface{})
			return list, nil
		},
	})
	if len(c.Delims) == 2 {
		t.Delims(c.Delims[0], c.Delims[1])
	}
	if len(c.Options) > 0 {
		t.Option(c.Options...)
	}
	if _, err := t.Parse(c.Template); err != nil {
		return fail(err)
	}
	var b strings.Builder
	err = t.Execute(&b, data)
	out = b.String()
	if err != nil {
		return fail(err)
	}
	return out, nil
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		out, errText := run(c)
		results[i] = result{Output: out, Error: errText}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
}
