package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/ehg/hub"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/pipeline"
	"github.com/ehg/hub/transform"
)

// Transformer turns one event into its canonical work item: compact JSON with keys in
// sorted order (what encoding/json writes for a map[string]any). A Transformer is used by
// one goroutine at a time; Peer.New makes one per goroutine.
type Transformer interface {
	Transform(event []byte) ([]byte, error)
}

// TransformFunc adapts a function to Transformer.
type TransformFunc func(event []byte) ([]byte, error)

// Transform calls f.
func (f TransformFunc) Transform(event []byte) ([]byte, error) { return f(event) }

// Peer is one implementation of the per-event work.
type Peer struct {
	// Name identifies the peer in tables and sub-benchmark names.
	Name string
	// New returns a Transformer for one goroutine.
	New func() Transformer
}

// Names of the peers Peers returns, in its order.
const (
	PeerHub         = "hub"                 // the hub's pipeline (internal/pipeline)
	PeerBloblang    = "bloblang+jsonschema" // Benthos bloblang, then jsonschema v5
	PeerExpr        = "expr+jsonschema"     // expr-lang over encoding/json, then jsonschema v5
	PeerFloorJSON   = "floor_json"          // encoding/json decode and encode, no mapping
	PeerHandwritten = "handwritten"         // Go structs in and out, no validation
)

// Peers compiles the workload's mapping and schema for every implementation and returns
// them in this order: the hub's pipeline, bloblang+jsonschema, expr+jsonschema, floor_json
// and handwritten. Every one maps the event to Workload.Expected (TestPeersAgree).
func Peers(w *Workload) ([]Peer, error) {
	pipe, err := HubPipeline(w)
	if err != nil {
		return nil, err
	}
	schema, err := compileSchema(w.Schema)
	if err != nil {
		return nil, err
	}
	blob, err := bloblang.Parse(w.Blobl)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: bloblang mapping: %w", err)
	}
	var exprFields map[string]string
	if err := json.Unmarshal(w.Mapping, &exprFields); err != nil {
		return nil, fmt.Errorf("benchmarks: expr mapping: %w", err)
	}
	fields, err := compileExpr(exprFields)
	if err != nil {
		return nil, err
	}
	var expected map[string]any
	if err := json.Unmarshal(w.Expected, &expected); err != nil {
		return nil, fmt.Errorf("benchmarks: expected output: %w", err)
	}
	return []Peer{
		{PeerHub, func() Transformer { return pipelineTransformer{pipe} }},
		{PeerBloblang, func() Transformer { return bloblValidate(blob, schema) }},
		{PeerExpr, func() Transformer { return exprValidate(fields, schema) }},
		{PeerFloorJSON, func() Transformer { return floorJSON(expected) }},
		{PeerHandwritten, func() Transformer { return TransformFunc(handwritten) }},
	}, nil
}

// HubPipeline compiles the hub's per-event pipeline for the workload as a service with the
// work-item mapping and contract runs it on accept: payload checks, projected decode,
// mapping, encoding, canonical validation and the transformation record, with the hub's
// default payload limits.
func HubPipeline(w *Workload) (*pipeline.Pipeline, error) {
	rules, err := transform.Parse(w.Mapping)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: mapping: %w", err)
	}
	rules.Name, rules.Version = "github-issue-to-work-item", 1
	prog, err := transform.Compile(rules)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: mapping: %w", err)
	}
	reg := contract.NewRegistry(contract.WithLimits(contract.Limits{MaxBytes: hub.MaxPayloadBytesDefault, MaxDepth: hub.MaxPayloadDepthDefault}))
	canon, err := reg.Register(context.Background(), contract.Contract{Name: "work-item", Version: "1.0.0", Schema: w.Schema})
	if err != nil {
		return nil, fmt.Errorf("benchmarks: contract: %w", err)
	}
	return pipeline.New(pipeline.Config{MaxBytes: hub.MaxPayloadBytesDefault, MaxDepth: hub.MaxPayloadDepthDefault, Mapping: prog, Canonical: canon})
}

type pipelineTransformer struct{ p *pipeline.Pipeline }

func (t pipelineTransformer) Transform(event []byte) ([]byte, error) {
	res, err := t.p.Run(context.Background(), event)
	if err != nil {
		return nil, err
	}
	return res.Canonical, nil
}

// compileSchema compiles the work item schema with jsonschema v5, formats asserted (in
// draft 2020-12 they are annotations unless asserted).
func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	const url = "work-item.schema.json"
	if err := c.AddResource(url, bytes.NewReader(schema)); err != nil {
		return nil, fmt.Errorf("benchmarks: schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: schema: %w", err)
	}
	return s, nil
}

// bloblValidate decodes the event, runs the bloblang mapping, validates the output and
// encodes it.
func bloblValidate(exec *bloblang.Executor, s *jsonschema.Schema) Transformer {
	return TransformFunc(func(event []byte) ([]byte, error) {
		var v any
		if err := json.Unmarshal(event, &v); err != nil {
			return nil, err
		}
		out, err := exec.Query(v)
		if err != nil {
			return nil, err
		}
		if err := s.Validate(out); err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// exprField is one target field and its compiled expression.
type exprField struct {
	name string
	prog *vm.Program
}

// compileExpr compiles each field's expression over the event's top-level keys (nested
// values untyped), in sorted field order.
func compileExpr(fields map[string]string) ([]exprField, error) {
	env := map[string]any{"action": "", "issue": map[string]any{}, "repository": map[string]any{}, "organization": map[string]any{}, "sender": map[string]any{}}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]exprField, 0, len(names))
	for _, n := range names {
		p, err := expr.Compile(fields[n], expr.Env(env))
		if err != nil {
			return nil, fmt.Errorf("benchmarks: expr field %s: %w", n, err)
		}
		out = append(out, exprField{n, p})
	}
	return out, nil
}

// exprValidate decodes the event with encoding/json, runs each field's program (one VM
// reused), validates the output and encodes it.
func exprValidate(fields []exprField, s *jsonschema.Schema) Transformer {
	var machine vm.VM
	return TransformFunc(func(event []byte) ([]byte, error) {
		var env map[string]any
		if err := json.Unmarshal(event, &env); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			v, err := machine.Run(f.prog, env)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			out[f.name] = v
		}
		if err := s.Validate(out); err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// floorJSON is the least a generic encoding/json pipeline does: decode the whole event into
// a map and encode the (precomputed) output map. No mapping, no validation.
func floorJSON(out map[string]any) Transformer {
	return TransformFunc(func(event []byte) ([]byte, error) {
		var m map[string]any
		if err := json.Unmarshal(event, &m); err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

type ghUser struct {
	Login string `json:"login"`
}

type ghIssueEvent struct {
	Issue struct {
		Number  int64   `json:"number"`
		Title   string  `json:"title"`
		Body    *string `json:"body"`
		State   string  `json:"state"`
		HTMLURL string  `json:"html_url"`
		User    ghUser  `json:"user"`
		Labels  []struct {
			Name string `json:"name"`
		} `json:"labels"`
		Assignees []ghUser `json:"assignees"`
		Milestone *struct {
			Title string `json:"title"`
		} `json:"milestone"`
		Comments  int64  `json:"comments"`
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
	} `json:"issue"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// workItem declares its fields in sorted JSON-key order, so encoding/json writes the same
// bytes as for the equivalent map.
type workItem struct {
	Assignees    []string `json:"assignees"`
	CommentCount int64    `json:"comment_count"`
	CreatedAt    string   `json:"created_at"`
	Description  string   `json:"description"`
	ID           string   `json:"id"`
	Labels       []string `json:"labels"`
	Milestone    *string  `json:"milestone"`
	Priority     string   `json:"priority"`
	Reporter     string   `json:"reporter"`
	Source       string   `json:"source"`
	Status       string   `json:"status"`
	Title        string   `json:"title"`
	UpdatedAt    string   `json:"updated_at"`
	URL          string   `json:"url"`
}

// handwritten decodes into Go structs and builds the output by hand (no validation): the
// floor of a typed implementation.
func handwritten(event []byte) ([]byte, error) {
	var ev ghIssueEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	is := &ev.Issue
	wi := &workItem{
		ID:           "github:" + ev.Repository.FullName + "#" + strconv.FormatInt(is.Number, 10),
		Source:       "github",
		Title:        is.Title,
		Reporter:     is.User.Login,
		CommentCount: is.Comments,
		URL:          is.HTMLURL,
		CreatedAt:    is.CreatedAt,
		UpdatedAt:    is.UpdatedAt,
		Priority:     "medium",
		Labels:       make([]string, 0, len(is.Labels)),
		Assignees:    make([]string, 0, len(is.Assignees)),
	}
	if is.Body != nil {
		wi.Description = *is.Body
	}
	switch {
	case is.State == "closed":
		wi.Status = "done"
	case len(is.Assignees) > 0:
		wi.Status = "in_progress"
	default:
		wi.Status = "todo"
	}
	for _, l := range is.Labels {
		if p, ok := strings.CutPrefix(l.Name, "priority:"); ok {
			switch p {
			case "low", "medium", "high", "urgent":
				wi.Priority = p
			}
			break
		}
	}
	for _, l := range is.Labels {
		wi.Labels = append(wi.Labels, l.Name)
	}
	for _, a := range is.Assignees {
		wi.Assignees = append(wi.Assignees, a.Login)
	}
	if is.Milestone != nil {
		t := is.Milestone.Title
		wi.Milestone = &t
	}
	return json.Marshal(wi)
}
