package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// readDocument reads a configuration document: one file, or every *.yaml, *.yml and
// *.json file of a folder and its subfolders, in lexical order (as config.Load does).
func readDocument(path string) ([]apiv1.ConfigFile, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []apiv1.ConfigFile{{Name: filepath.Base(path), Content: string(b)}}, nil
	}
	var names []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				names = append(names, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	files := make([]apiv1.ConfigFile, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(path, n)
		files = append(files, apiv1.ConfigFile{Name: filepath.ToSlash(rel), Content: string(b)})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no *.yaml, *.yml or *.json file", path)
	}
	return files, nil
}

// configRequest parses the flags and path of plan and apply.
func configRequest(name string, args []string) (apiv1.ConfigRequest, *bool, error) {
	fs := flags(name)
	env := fs.String("env", "", "the environment whose overrides apply")
	yes := fs.Bool("yes", false, "apply without asking")
	if err := parse(fs, args); err != nil {
		return apiv1.ConfigRequest{}, nil, err
	}
	if fs.NArg() != 1 {
		return apiv1.ConfigRequest{}, nil, fmt.Errorf("%w: %s needs one file or folder", errUsage, name)
	}
	files, err := readDocument(fs.Arg(0))
	if err != nil {
		return apiv1.ConfigRequest{}, nil, err
	}
	return apiv1.ConfigRequest{Files: files, Environment: *env}, yes, nil
}

// plan prints what applying the document would change.
func (c *cli) plan(ctx context.Context, args []string) error {
	req, _, err := configRequest("plan", args)
	if err != nil {
		return err
	}
	var plan apiv1.ConfigPlan
	if err := c.client.Do(ctx, "POST", "config/plan", req, &plan); err != nil {
		return err
	}
	return c.emit(plan, func(w *tabwriter.Writer) { fmt.Fprint(w, plan.Diff) })
}

// apply plans the document, shows the plan, asks, and applies that plan (refused when the
// configuration moved in between).
func (c *cli) apply(ctx context.Context, args []string) error {
	req, yes, err := configRequest("apply", args)
	if err != nil {
		return err
	}
	var plan apiv1.ConfigPlan
	if err := c.client.Do(ctx, "POST", "config/plan", req, &plan); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprint(c.out, plan.Diff)
	}
	if !plan.HasChanges {
		if c.json {
			return c.emit(plan, nil)
		}
		fmt.Fprintln(c.out, "nothing to apply")
		return nil
	}
	if !*yes {
		fmt.Fprint(c.out, "apply it? [y/N] ")
		line, _ := c.in.ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(c.out, "not applied")
			return nil
		}
	}
	req.Revision, req.Fingerprint = &plan.Revision, plan.Fingerprint
	var res apiv1.ConfigApplyResult
	if err := c.client.Do(ctx, "POST", "config/apply", req, &res); err != nil {
		var p *apiv1.Problem
		if errors.As(err, &p) && p.Status == 409 {
			return fmt.Errorf("the configuration changed since the plan; run apply again to review the new plan: %w", err)
		}
		return err
	}
	return c.emit(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "applied %d changes: revision %d, change set %s\n", len(res.Applied), res.Revision, res.ChangeSetID)
		for _, p := range res.Pending {
			fmt.Fprintf(w, "  waiting for approval %s: %s %s %s\n", p.ApprovalID, p.Change.Action, p.Change.Kind, p.Change.Name)
		}
	})
}

// export prints the hub's configuration as a YAML document.
func (c *cli) export(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: export takes no arguments", errUsage)
	}
	var exp apiv1.ConfigExport
	if err := c.client.Do(ctx, "GET", "config/export", nil, &exp); err != nil {
		return err
	}
	if c.json {
		return c.emit(exp, nil)
	}
	_, err := fmt.Fprint(c.out, exp.Document)
	return err
}
