package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// readJSON reads a JSON document from a file; what flag names it is in the error.
func readJSON(flagName, path string) (json.RawMessage, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-%s: %w", flagName, err)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("-%s: %s is not a JSON document", flagName, path)
	}
	return json.RawMessage(b), nil
}

// readContract reads a contract file: {"name", "version", "schema"}.
func readContract(path string) (*apiv1.ContractRef, error) {
	raw, err := readJSON("contract", path)
	if err != nil || raw == nil {
		return nil, err
	}
	var ref apiv1.ContractRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, fmt.Errorf("-contract: %s: %w", path, err)
	}
	if ref.Name == "" || ref.Version == "" || len(ref.Schema) == 0 {
		return nil, fmt.Errorf("-contract: %s needs name, version and schema", path)
	}
	return &ref, nil
}

// parseNamed parses flags around one positional name: flags may come before or after it
// ("save -mapping m.json github" and "save github -mapping m.json").
func parseNamed(fs *flag.FlagSet, args []string) (string, error) {
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	name := fs.Arg(0)
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() != 0 {
		return "", fmt.Errorf("%w: %s takes one name, not %q and %q", errUsage, fs.Name(), name, fs.Arg(0))
	}
	return name, nil
}

// mapping runs mapping preview, mapping suggest and mapping save.
func (c *cli) mapping(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: mapping needs preview, suggest or save", errUsage)
	}
	switch args[0] {
	case "preview":
		return c.mappingPreview(ctx, args[1:])
	case "suggest":
		return c.mappingSuggest(ctx, args[1:])
	case "save":
		return c.mappingSave(ctx, args[1:])
	}
	return fmt.Errorf("%w: mapping needs preview, suggest or save, not %q", errUsage, args[0])
}

func (c *cli) mappingPreview(ctx context.Context, args []string) error {
	fs := flags("mapping preview")
	mappingFile := fs.String("mapping", "", "the mapping (JSON file)")
	sampleFile := fs.String("sample", "", "the sample payload (JSON file)")
	contractFile := fs.String("contract", "", "the contract to check the output against (JSON file: name, version, schema)")
	service := fs.String("service", "", "check against this service's canonical contract")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *mappingFile == "" || *sampleFile == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: mapping preview needs -mapping FILE and -sample FILE", errUsage)
	}
	req := apiv1.PreviewRequest{Service: *service}
	var err error
	if req.Mapping, err = readJSON("mapping", *mappingFile); err != nil {
		return err
	}
	if req.Sample, err = readJSON("sample", *sampleFile); err != nil {
		return err
	}
	if req.Contract, err = readContract(*contractFile); err != nil {
		return err
	}
	var r apiv1.PreviewResult
	if err := c.client.Do(ctx, "POST", "mappings/preview", req, &r); err != nil {
		return err
	}
	if err := c.emit(r, func(w *tabwriter.Writer) {
		verdict := "ok"
		if !r.OK {
			verdict = "FAILED"
		}
		if r.Contract != nil {
			verdict += " (contract " + r.Contract.Name + "@" + r.Contract.Version + ")"
		}
		fmt.Fprintf(w, "Preview %s\n", verdict)
		if len(r.Output) > 0 {
			fmt.Fprintf(w, "Output: %s\n", r.Output)
		}
		if len(r.Errors) > 0 {
			fmt.Fprintln(w, "TARGET\tLINE:COL\tERROR")
			for _, e := range r.Errors {
				fmt.Fprintf(w, "%s\t%d:%d\t%s\n", orDash(e.Target), e.Line, e.Column, e.Message)
			}
		}
		if len(r.Violations) > 0 {
			fmt.Fprintln(w, "PATH\tVIOLATION")
			for _, v := range r.Violations {
				fmt.Fprintf(w, "%s\t%s\n", orRoot(v.Path), v.Message)
			}
		}
	}); err != nil {
		return err
	}
	if !r.OK {
		return fmt.Errorf("the mapping does not produce a valid document (%d errors, %d violations)", len(r.Errors), len(r.Violations))
	}
	return nil
}

func (c *cli) mappingSuggest(ctx context.Context, args []string) error {
	fs := flags("mapping suggest")
	sampleFile := fs.String("sample", "", "the sample payload (JSON file)")
	contractFile := fs.String("contract", "", "the target contract (JSON file: name, version, schema)")
	service := fs.String("service", "", "target this service's canonical contract")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *sampleFile == "" || (*contractFile == "") == (*service == "") || fs.NArg() != 0 {
		return fmt.Errorf("%w: mapping suggest needs -sample FILE and either -contract FILE or -service S", errUsage)
	}
	req := apiv1.SuggestRequest{Service: *service}
	var err error
	if req.Sample, err = readJSON("sample", *sampleFile); err != nil {
		return err
	}
	ref, err := readContract(*contractFile)
	if err != nil {
		return err
	}
	if ref != nil {
		req.Schema = ref.Schema
	}
	var r apiv1.SuggestResult
	if err := c.client.Do(ctx, "POST", "mappings/suggest", req, &r); err != nil {
		return err
	}
	return c.emit(r, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "TARGET\tEXPRESSION\tCONFIDENCE\tREASON")
		for _, s := range r.Suggestions {
			fmt.Fprintf(w, "%s\t%s\t%.2f\t%s\n", s.Target, orDash(s.Expr), s.Confidence, s.Reason)
		}
		fmt.Fprintf(w, "Mapping: %s\n", r.Mapping)
	})
}

func (c *cli) mappingSave(ctx context.Context, args []string) error {
	fs := flags("mapping save")
	mappingFile := fs.String("mapping", "", "the mapping (JSON file)")
	service, err := parseNamed(fs, args)
	if err != nil {
		return err
	}
	if service == "" || *mappingFile == "" {
		return fmt.Errorf("%w: mapping save needs one service and -mapping FILE", errUsage)
	}
	m, err := readJSON("mapping", *mappingFile)
	if err != nil {
		return err
	}
	var r apiv1.ServiceChange
	if err := c.client.Do(ctx, "PATCH", "services/"+url.PathEscape(service), apiv1.ConfigureRequest{Mapping: m}, &r); err != nil {
		return err
	}
	return c.emit(r, func(w *tabwriter.Writer) {
		if r.MappingVersion == 0 {
			fmt.Fprintf(w, "%s: mapping unchanged\n", r.Service.Name)
			return
		}
		fmt.Fprintf(w, "%s: mapping saved as version %d\n", r.Service.Name, r.MappingVersion)
	})
}

func (c *cli) routes(ctx context.Context, args []string) error {
	fs := flags("routes")
	source := fs.String("source", "", "only the routes of this source service")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: routes takes no arguments (use -source S)", errUsage)
	}
	var list apiv1.RouteList
	if err := c.client.Do(ctx, "GET", "routes"+apiv1.Query("source", *source), nil, &list); err != nil {
		return err
	}
	return c.emit(list, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tVERSION\tSOURCE\tDESTINATIONS\tCONDITION")
		for _, r := range list.Routes {
			fmt.Fprintf(w, "%s\tv%d\t%s\t%s\t%s\n", r.Name, r.Version, r.Source, destinations(r.Destinations), orDash(r.Condition))
		}
	})
}

func destinations(ds []apiv1.RouteDestination) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Service
	}
	return strings.Join(names, ",")
}

// route runs route put and route delete.
func (c *cli) route(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: route needs put or delete", errUsage)
	}
	switch args[0] {
	case "put":
		fs := flags("route put")
		file := fs.String("file", "", "the route (JSON file: source, condition, mapping, contract, destinations)")
		name, err := parseNamed(fs, args[1:])
		if err != nil {
			return err
		}
		if name == "" || *file == "" {
			return fmt.Errorf("%w: route put needs one route name and -file FILE", errUsage)
		}
		raw, err := readJSON("file", *file)
		if err != nil {
			return err
		}
		var req apiv1.RouteRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return fmt.Errorf("-file: %s: %w", *file, err)
		}
		var r apiv1.Route
		if err := c.client.Do(ctx, "PUT", "routes/"+url.PathEscape(name), req, &r); err != nil {
			return err
		}
		return c.emit(r, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "route %s stored as version %d (%s -> %s)\n", r.Name, r.Version, r.Source, destinations(r.Destinations))
		})
	case "delete":
		if len(args) != 2 {
			return fmt.Errorf("%w: route delete needs one route name", errUsage)
		}
		var r apiv1.RouteDeleted
		if err := c.client.Do(ctx, "DELETE", "routes/"+url.PathEscape(args[1]), nil, &r); err != nil {
			return err
		}
		return c.emit(r, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "route %s stored inactive\n", r.Name)
		})
	}
	return fmt.Errorf("%w: route needs put or delete, not %q", errUsage, args[0])
}
