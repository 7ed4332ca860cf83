package config

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Encode writes the document as YAML, deterministically: services sorted by name,
// contracts by name and version, mapping members in a fixed order, free-form members
// (auth, options, schemas, mappings) in their own member order. Encoding a document,
// loading it and encoding it again gives the same bytes.
func Encode(doc *Document) ([]byte, error) {
	d := doc.Clone()
	slices.SortStableFunc(d.Services, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(d.Contracts, func(a, b Contract) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	slices.SortStableFunc(d.Routes, func(a, b Route) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(d.Schedules, func(a, b Schedule) int { return cmp.Compare(a.Service, b.Service) })
	n, err := encodeValue(reflect.ValueOf(d).Elem())
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("config: encoding: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encoding: %w", err)
	}
	return b.Bytes(), nil
}

func encodeValue(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t == rawType:
		return jsonNode(json.RawMessage(v.Bytes()))
	case t == durationType:
		return strNode(Duration(v.Int()).String()), nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return encodeValue(v.Elem())
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 && strings.Contains(opts, "omitempty") {
				continue
			}
			c, err := encodeValue(fv)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, strNode(name), c)
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			c, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			c, err := encodeValue(v.MapIndex(reflect.ValueOf(k).Convert(t.Key())))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, strNode(k), c)
		}
		return n, nil
	case reflect.String:
		return strNode(v.String()), nil
	case reflect.Int, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}, nil
	case reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		tag := "!!float"
		if !strings.ContainsAny(s, ".eE") {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}, nil
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}, nil
	}
	return nil, fmt.Errorf("config: cannot encode %s", t)
}
