//go:build sprig

// Sprig's functions plus Helm's toYaml (sigs.k8s.io/yaml: JSON first, then YAML), with now pinned
// to the case's clock.
package main

import (
	"encoding/json"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v2"
)

func init() {
	extraFuncs = func(now time.Time) template.FuncMap {
		m := sprig.TxtFuncMap()
		m["now"] = func() time.Time { return now }
		m["toYaml"] = func(v interface{}) string {
			j, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			var ms yaml.MapSlice
			var out interface{} = &ms
			if len(j) > 0 && j[0] != '{' {
				var any interface{}
				if err := yaml.Unmarshal(j, &any); err != nil {
					return ""
				}
				y, _ := yaml.Marshal(any)
				return strings.TrimSuffix(string(y), "\n")
			}
			if err := yaml.Unmarshal(j, out); err != nil {
				return ""
			}
			y, err := yaml.Marshal(ms)
			if err != nil {
				return ""
			}
			return strings.TrimSuffix(string(y), "\n")
		}
		return m
	}
}
