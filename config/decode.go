package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds one document file.
const MaxFileBytes = 8 << 20

// source is what a loaded document remembers of where it came from.
type source struct {
	// pos maps document paths to where they were read.
	pos map[string]Position
	// dir resolves relative file: references.
	dir string
	// resolvers are the embedder's secret schemes; lookupEnv reads env: references.
	resolvers map[string]Resolver
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
}

// Option configures Load and Parse.
type Option func(*source)

// WithResolver registers a secret scheme: references "SCHEME:REST" in the document are
// resolved by r (for a vault or a cloud secret manager). "env" and "file" are built in and
// may be replaced.
func WithResolver(scheme string, r Resolver) Option {
	return func(s *source) { s.resolvers[scheme] = r }
}

// WithLookupEnv replaces os.LookupEnv for "env:" references (tests, or a filtered
// environment).
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(s *source) { s.lookupEnv = lookup }
}

// WithBaseDir sets the folder relative "file:" references are read from (default: the
// document's folder; the working directory for Parse).
func WithBaseDir(dir string) Option {
	return func(s *source) { s.dir = dir }
}

func newSource(dir string, opts []Option) *source {
	s := &source{pos: map[string]Position{}, dir: dir, resolvers: map[string]Resolver{}, lookupEnv: os.LookupEnv, readFile: os.ReadFile}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

// Load reads a document from a file (YAML, or JSON, which is YAML too) or from a folder:
// every *.yaml, *.yml and *.json file in it and its subfolders, in lexical order, each a
// part of one document (services and contracts are concatenated; version must agree;
// retention and each environment may appear in one file only).
//
// Errors: an [Errors] (ErrInvalid) listing every problem found with its file, line and
// path; an error wrapping fs errors when a file cannot be read.
func Load(path string, opts ...Option) (*Document, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !info.IsDir() {
		data, err := readBounded(path)
		if err != nil {
			return nil, err
		}
		return parse(filepath.Base(path), data, newSource(filepath.Dir(path), opts))
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(files) == 0 {
		return nil, &Error{Position: Position{File: path}, Message: "the folder holds no *.yaml, *.yml or *.json file"}
	}
	slices.Sort(files)
	parts := make([]File, 0, len(files))
	for _, f := range files {
		data, err := readBounded(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(path, f)
		parts = append(parts, File{Name: filepath.ToSlash(rel), Data: data})
	}
	return parseFiles(parts, newSource(path, opts))
}

// File is one part of a document: its name (as errors give it) and content.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// ParseFiles reads a document given in parts, as Load reads a folder: files in the order
// given. Relative "file:" references resolve against the working directory unless
// WithBaseDir says otherwise. Errors as [Load].
func ParseFiles(files []File, opts ...Option) (*Document, error) {
	if len(files) == 0 {
		return nil, &Error{Message: "no document files"}
	}
	total := 0
	for _, f := range files {
		total += len(f.Data)
		if total > MaxFileBytes {
			return nil, &Error{Position: Position{File: f.Name}, Message: fmt.Sprintf("the document is over %d bytes", MaxFileBytes)}
		}
	}
	return parseFiles(files, newSource("", opts))
}

func parseFiles(files []File, src *source) (*Document, error) {
	d := &decoder{src: src}
	var merged Document
	for _, f := range files {
		var part Document
		d.file = f.Name
		d.decodeFile(f.Data, &part)
		d.merge(&merged, &part)
	}
	merged.src = src
	d.validate(&merged)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return &merged, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, MaxFileBytes+1)); err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if b.Len() > MaxFileBytes {
		return nil, &Error{Position: Position{File: filepath.Base(path)}, Message: fmt.Sprintf("the file is over %d bytes", MaxFileBytes)}
	}
	return b.Bytes(), nil
}

// Parse reads a document from data (YAML or JSON); name is the file name errors give.
// Errors as [Load].
func Parse(name string, data []byte, opts ...Option) (*Document, error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{Position: Position{File: name}, Message: fmt.Sprintf("the document is over %d bytes", MaxFileBytes)}
	}
	return parse(name, data, newSource("", opts))
}

func parse(name string, data []byte, src *source) (*Document, error) {
	d := &decoder{src: src, file: name}
	var doc Document
	d.decodeFile(data, &doc)
	doc.src = src
	d.validate(&doc)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return &doc, nil
}

// decoder walks YAML nodes into Go values, strictly, recording positions and problems.
type decoder struct {
	src  *source
	file string
	errs Errors
	// dups are the positions of list elements whose name repeats an earlier one.
	dups map[string]Position
}

// positions records where each member of a free-form value was read.
func (d *decoder) positions(n *yaml.Node, path string, depth int) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if depth > maxJSONDepth {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			sub := path + "." + k.Value
			d.src.pos[sub] = Position{File: d.file, Line: k.Line, Column: k.Column}
			d.positions(n.Content[i+1], sub, depth+1)
		}
	case yaml.SequenceNode:
		for i, el := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			d.src.pos[sub] = Position{File: d.file, Line: el.Line, Column: el.Column}
			d.positions(el, sub, depth+1)
		}
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	pos := Position{File: d.file}
	if n != nil {
		pos.Line, pos.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, &Error{Position: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) decodeFile(data []byte, doc *Document) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{Position: Position{File: d.file}, Message: "the document is empty"})
			return
		}
		d.errs = append(d.errs, yamlError(d.file, err))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "", "a file holds one document; a second one starts here")
		return
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d.value(n, reflect.ValueOf(doc).Elem(), "")
}

// yamlError turns a yaml syntax error ("yaml: line 3: ...") into an *Error with the line.
func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pos := Position{File: file}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if l, cerr := strconv.Atoi(num); cerr == nil {
				pos.Line, pos.Column, msg = l, 1, strings.TrimSpace(tail)
			}
		}
	}
	return &Error{Position: pos, Message: "not well-formed YAML or JSON: " + msg}
}

var (
	rawType      = reflect.TypeFor[json.RawMessage]()
	durationType = reflect.TypeFor[Duration]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	}
	return "a " + strings.TrimPrefix(n.Tag, "!!")
}

// value decodes n into v (addressable), path naming it.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, seen := d.src.pos[path]; !seen {
		d.src.pos[path] = Position{File: d.file, Line: n.Line, Column: n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	t := v.Type()
	switch {
	case t == rawType:
		var b bytes.Buffer
		if err := nodeJSON(&b, n); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetBytes(b.Bytes())
		d.positions(n, path, 0)
		return
	case t == durationType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.errorf(n, path, "expected a duration string (\"168h\", \"30d\", \"forever\"), got %s", kindName(n))
			return
		}
		dur, err := ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := joinPath(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok || k.Kind != yaml.ScalarNode {
				d.errorf(k, sub, "unknown field %q (known: %s)", k.Value, knownList(fields))
				continue
			}
			d.src.pos[sub] = Position{File: d.file, Line: k.Line, Column: k.Column}
			d.value(val, v.Field(idx), sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", kindName(n))
			return
		}
		out := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, el := range n.Content {
			key := elementKey(el, i)
			if path == "schedules" {
				key = memberKey(el, "service", i)
			}
			p := path + "[" + key + "]"
			if _, dup := d.src.pos[p]; dup {
				// a repeated name: validate reports it here
				if d.dups == nil {
					d.dups = map[string]Position{}
				}
				d.dups[p] = Position{File: d.file, Line: el.Line, Column: el.Column}
			}
			d.value(el, out.Index(i), p)
		}
		v.Set(out)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := joinPath(path, k.Value)
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, sub, "a key must be a string")
				continue
			}
			d.src.pos[sub] = Position{File: d.file, Line: k.Line, Column: k.Column}
			el := reflect.New(t.Elem()).Elem()
			d.value(val, el, sub)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), el)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.errorf(n, path, "expected a string, got %s (quote it)", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errorf(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || (t.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32)) {
			d.errorf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(n, path, "expected a number, got %s", kindName(n))
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.errorf(n, path, "%s is not a finite number", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "expected a boolean, got %s", kindName(n))
			return
		}
		var b bool
		_ = n.Decode(&b)
		v.SetBool(b)
	default:
		d.errorf(n, path, "cannot decode into %s", t)
	}
}

// elementKey names a list element: by its "name" member (with "@version" when it has
// one), else by index.
func elementKey(n *yaml.Node, i int) string {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.MappingNode {
		var name, version string
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := n.Content[j], n.Content[j+1]
			if v.Kind != yaml.ScalarNode {
				continue
			}
			switch k.Value {
			case "name":
				name = v.Value
			case "version":
				version = v.Value
			}
		}
		if name != "" {
			if version != "" {
				return name + "@" + version
			}
			return name
		}
	}
	return strconv.Itoa(i)
}

// memberKey names a list element by its member named member, else by index.
func memberKey(n *yaml.Node, member string, i int) string {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k, v := n.Content[j], n.Content[j+1]; k.Value == member && v.Kind == yaml.ScalarNode && v.Value != "" {
				return v.Value
			}
		}
	}
	return strconv.Itoa(i)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields maps yaml member names to field indexes (exported fields with a yaml tag).
func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func knownList(fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// merge adds part (one file of a folder) to into, reporting what may appear only once.
func (d *decoder) merge(into, part *Document) {
	if part.Version != 0 {
		if into.Version != 0 && into.Version != part.Version {
			d.errorf(nil, "version", "version %d differs from %d in an earlier file", part.Version, into.Version)
		}
		into.Version = part.Version
	}
	into.Services = append(into.Services, part.Services...)
	into.Contracts = append(into.Contracts, part.Contracts...)
	into.Routes = append(into.Routes, part.Routes...)
	into.Schedules = append(into.Schedules, part.Schedules...)
	if part.Approvals != nil {
		if into.Approvals != nil {
			d.errorf(nil, "approvals", "approvals is set in more than one file")
		}
		into.Approvals = part.Approvals
	}
	for name, perms := range part.Roles {
		if into.Roles == nil {
			into.Roles = map[string][]string{}
		}
		if _, dup := into.Roles[name]; dup {
			d.errorf(nil, RolePath(name), "role %q is set in more than one file", name)
		}
		into.Roles[name] = perms
	}
	if part.Retention != nil {
		if into.Retention != nil {
			d.errorf(nil, "retention", "retention is set in more than one file")
		}
		into.Retention = part.Retention
	}
	for name, env := range part.Environments {
		if into.Environments == nil {
			into.Environments = map[string]Environment{}
		}
		if _, dup := into.Environments[name]; dup {
			d.errorf(nil, "environments."+name, "environment %q is set in more than one file", name)
		}
		into.Environments[name] = env
	}
}
