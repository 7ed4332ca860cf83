package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// errUsage marks a usage error (exit status 2).
var errUsage = errors.New("usage")

type cli struct {
	client *apiv1.Client
	json   bool
	in     *bufio.Reader
	out    io.Writer
	now    func() time.Time
}

// run executes one hubctl invocation and returns its exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("hubctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", getenv("HUBCTL_URL"), "base URL of the hub's handler ($HUBCTL_URL)")
	token := fs.String("token", getenv("HUBCTL_TOKEN"), "bearer token ($HUBCTL_TOKEN)")
	output := fs.String("o", "table", "output: table or json")
	reason := fs.String("reason", "", "why: stored with a change that waits for approval")
	override := fs.String("override", "", "apply as a chairman's override, with this reason")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "hubctl: -o must be table or json, not %q\n", *output)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "hubctl: a command is required: status, services, health, events, retry, redrive, pause, resume, reset-breaker, open-breaker, test, approvals, approve, reject, audit, watch, do, plan, apply, export, mapping, routes, route")
		return 2
	}
	if *base == "" {
		fmt.Fprintln(stderr, "hubctl: the hub's URL is required (-url or $HUBCTL_URL)")
		return 2
	}
	if u, err := url.Parse(*base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "hubctl: -url %q is not an http or https URL\n", *base)
		return 2
	}
	hdr := http.Header{}
	if *reason != "" {
		hdr.Set("Hub-Reason", *reason)
	}
	if *override != "" {
		hdr.Set("Hub-Override-Reason", *override)
	}
	c := &cli{client: &apiv1.Client{BaseURL: *base, Token: *token, Header: hdr}, json: *output == "json", in: bufio.NewReader(stdin), out: stdout, now: time.Now}
	err := c.dispatch(ctx, fs.Arg(0), fs.Args()[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "hubctl: %v\n", err)
		return 2
	case errors.Is(err, context.Canceled):
		return 0
	}
	var p *apiv1.Problem
	if errors.As(err, &p) {
		fmt.Fprintf(stderr, "hubctl: %s\n", p.Error())
		for _, v := range p.Violations {
			fmt.Fprintf(stderr, "  %s: %s\n", orRoot(v.Path), v.Message)
		}
		return 1
	}
	fmt.Fprintf(stderr, "hubctl: %v\n", err)
	return 1
}

func (c *cli) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "status":
		return c.status(ctx, args)
	case "services":
		return c.services(ctx, args)
	case "health":
		return c.health(ctx, args)
	case "events":
		return c.events(ctx, args)
	case "event":
		return c.event(ctx, args)
	case "retry":
		return c.retry(ctx, args)
	case "redrive":
		return c.redrive(ctx, args)
	case "pause", "resume", "reset-breaker", "open-breaker":
		return c.recover(ctx, cmd, args)
	case "test":
		return c.test(ctx, args)
	case "remove":
		return c.remove(ctx, args)
	case "approvals":
		return c.approvals(ctx, args)
	case "approve", "reject":
		return c.decide(ctx, cmd, args)
	case "audit":
		return c.audit(ctx, args)
	case "watch":
		return c.watch(ctx, args)
	case "do":
		return c.do(ctx, args)
	case "plan":
		return c.plan(ctx, args)
	case "apply":
		return c.apply(ctx, args)
	case "export":
		return c.export(ctx, args)
	case "mapping":
		return c.mapping(ctx, args)
	case "routes":
		return c.routes(ctx, args)
	case "route":
		return c.route(ctx, args)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// emit prints v as JSON, or calls table.
func (c *cli) emit(v any, table func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	return nil
}

// parseTime reads an RFC 3339 time or a duration ago ("2h").
func (c *cli) parseTime(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return c.now().Add(-d).UTC().Format(time.RFC3339), nil
	}
	return "", fmt.Errorf("%w: %q is neither an RFC 3339 time nor a duration such as 2h", errUsage, s)
}

func (c *cli) status(ctx context.Context, args []string) error {
	var ov apiv1.Overview
	if err := c.client.Do(ctx, "GET", "overview", nil, &ov); err != nil {
		return err
	}
	return c.emit(ov, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "Overall %s (%d services)\n", ov.Status, len(ov.Services))
		fmt.Fprintln(w, "SERVICE\tSTATUS\tBREAKER\tEVENTS/MIN\tERRORS\tP95 MS\tCOST 24H\tDEAD\tREASON")
		for _, s := range ov.Services {
			name := s.Name
			if !s.Active {
				name += " (paused)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%.1f\t%.1f%%\t%.0f\t%.2f\t%d\t%s\n", name, s.Status, s.Breaker, s.Throughput, 100*s.ErrorRate, s.P95MS, s.Cost, s.DeadLetters, s.Reason)
		}
	})
}

func (c *cli) services(ctx context.Context, args []string) error {
	var list apiv1.ServiceList
	if err := c.client.Do(ctx, "GET", "services", nil, &list); err != nil {
		return err
	}
	return c.emit(list, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tCONNECTOR\tACTIVE\tHEALTH\tBREAKER\tBASE URL\tMAPPING\tCONTRACT")
		for _, s := range list.Services {
			contract := "-"
			if s.Contract != nil {
				contract = s.Contract.Name + "@" + s.Contract.Version
			}
			mapping := "-"
			if s.MappingVersion > 0 {
				mapping = "v" + strconv.Itoa(s.MappingVersion)
			}
			fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Connector, s.Active, s.HealthStatus, s.Breaker, s.BaseURL, mapping, contract)
		}
	})
}

func (c *cli) health(ctx context.Context, args []string) error {
	var rep apiv1.HealthReport
	q := ""
	if len(args) > 0 {
		q = apiv1.Query("service", args[0])
	}
	if err := c.client.Do(ctx, "GET", "health"+q, nil, &rep); err != nil {
		return err
	}
	return c.emit(rep, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "SERVICE\tSTATUS\tBREAKER\tERRORS\tATTEMPTS\tP95 MS\tREASON")
		for _, s := range rep.Services {
			fmt.Fprintf(w, "%s\t%s\t%s\t%.1f%%\t%d\t%.0f\t%s\n", s.Name, s.Status, s.Breaker, 100*s.ErrorRate, s.Attempts, s.LatencyP95MS, s.Reason)
			for _, wn := range s.Warnings {
				fmt.Fprintf(w, "  warning\t%s\t%s\t\t\t\t%s\n", wn.Kind, "", wn.Message)
			}
		}
	})
}

func (c *cli) events(ctx context.Context, args []string) error {
	fs := flags("events")
	service := fs.String("service", "", "service name or ID")
	status := fs.String("status", "", "event status")
	since := fs.String("since", "", "created since (RFC 3339 or a duration ago)")
	limit := fs.Int("limit", 50, "page size")
	cursor := fs.String("cursor", "", "next_cursor of the previous page")
	newest := fs.Bool("newest", false, "newest first")
	if err := parse(fs, args); err != nil {
		return err
	}
	from, err := c.parseTime(*since)
	if err != nil {
		return err
	}
	order := ""
	if *newest {
		order = "newest"
	}
	var page apiv1.EventPage
	if err := c.client.Do(ctx, "GET", "events"+apiv1.Query("service", *service, "status", *status, "since", from,
		"limit", strconv.Itoa(*limit), "cursor", *cursor, "order", order), nil, &page); err != nil {
		return err
	}
	return c.emit(page, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tSERVICE\tSTATUS\tRETRIES\tCODE\tCREATED\tERROR")
		for _, e := range page.Events {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.ID, e.ServiceName, e.Status, e.RetryCount, e.ResponseCode, e.CreatedAt.Format(time.RFC3339), errorText(e.Error))
		}
		if page.NextCursor != "" {
			fmt.Fprintf(w, "more: -cursor %s\n", page.NextCursor)
		}
	})
}

func errorText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		for _, k := range []string{"message", "error"} {
			if s, ok := m[k].(string); ok {
				return s
			}
		}
	}
	return string(raw)
}

func (c *cli) retry(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: retry needs event IDs", errUsage)
	}
	var results []apiv1.RetryResult
	for _, id := range args {
		var r apiv1.RetryResult
		if err := c.client.Do(ctx, "POST", "events/"+url.PathEscape(id)+"/retry", nil, &r); err != nil {
			return err
		}
		results = append(results, r)
	}
	return c.emit(results, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "EVENT\tWAS\tNOW")
		for _, r := range results {
			fmt.Fprintf(w, "%s\t%s\t%s\n", r.EventID, r.PreviousStatus, r.Status)
		}
	})
}

func (c *cli) redrive(ctx context.Context, args []string) error {
	fs := flags("redrive")
	service := fs.String("service", "", "service name or ID")
	status := fs.String("status", "", "dead (default) or failed")
	since := fs.String("since", "", "created since (RFC 3339 or a duration ago)")
	if err := parse(fs, args); err != nil {
		return err
	}
	req := apiv1.RedriveRequest{IDs: fs.Args(), Service: *service, Status: *status}
	if *since != "" {
		s, err := c.parseTime(*since)
		if err != nil {
			return err
		}
		req.Since, _ = time.Parse(time.RFC3339, s)
	}
	var r apiv1.RedriveResult
	if err := c.client.Do(ctx, "POST", "events/redrive", req, &r); err != nil {
		return err
	}
	return c.emit(r, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "requeued %d events\n", len(r.Requeued))
		for _, id := range r.Requeued {
			fmt.Fprintf(w, "  %s\n", id)
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "skipped %s\t%s\n", s.EventID, s.Reason)
		}
	})
}

func (c *cli) recover(ctx context.Context, cmd string, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: %s needs one service", errUsage, cmd)
	}
	action := map[string]string{"pause": "disable", "resume": "enable", "reset-breaker": "reset_breaker", "open-breaker": "open_breaker"}[cmd]
	var r apiv1.RecoveryResult
	if err := c.client.Do(ctx, "POST", "recovery", apiv1.RecoveryRequest{Service: args[0], Actions: []string{action}}, &r); err != nil {
		return err
	}
	if err := c.emit(r, func(w *tabwriter.Writer) {
		for _, s := range r.Steps {
			if s.OK {
				fmt.Fprintf(w, "%s: %s\n", args[0], s.Detail)
			} else {
				fmt.Fprintf(w, "%s: %s failed: %s\n", args[0], s.Action, s.Error)
			}
		}
	}); err != nil {
		return err
	}
	if !r.OK {
		return fmt.Errorf("%s did not succeed", cmd)
	}
	return nil
}

func (c *cli) test(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: test needs one service", errUsage)
	}
	var r apiv1.TestResult
	if err := c.client.Do(ctx, "POST", "services/"+url.PathEscape(args[0])+"/test", apiv1.TestRequest{}, &r); err != nil {
		return err
	}
	return c.emit(r, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "STEP\tRESULT\tMS\tERROR")
		for _, s := range r.Steps {
			res := "ok"
			switch {
			case s.Skipped:
				res = "skipped"
			case !s.OK:
				res = "FAILED"
			}
			fmt.Fprintf(w, "%s\t%s\t%.1f\t%s\n", s.Name, res, s.DurationMS, s.Error)
		}
	})
}

func (c *cli) approvals(ctx context.Context, args []string) error {
	var list apiv1.ApprovalList
	if err := c.client.Do(ctx, "GET", "approvals"+apiv1.Query("status", "pending"), nil, &list); err != nil {
		return err
	}
	return c.emit(list, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tACTION\tTARGET\tREQUESTED BY\tREASON\tEXPIRES")
		for _, a := range list.Approvals {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Action, a.Target, a.RequestedBy, a.Reason, a.ExpiresAt.Format(time.RFC3339))
		}
	})
}

func (c *cli) decide(ctx context.Context, cmd string, args []string) error {
	fs := flags(cmd)
	reason := fs.String("reason", "", "why")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: %s needs one approval ID", errUsage, cmd)
	}
	var a apiv1.Approval
	if err := c.client.Do(ctx, "POST", "approvals/"+url.PathEscape(fs.Arg(0))+"/"+cmd, apiv1.DecisionRequest{Reason: *reason}, &a); err != nil {
		return err
	}
	return c.emit(a, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "approval %s: %s\n", a.ID, a.Status)
	})
}

func (c *cli) audit(ctx context.Context, args []string) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "verify":
		var r apiv1.AuditReport
		if err := c.client.Do(ctx, "POST", "audit/verify", apiv1.AuditVerifyRequest{}, &r); err != nil {
			return err
		}
		if err := c.emit(r, func(w *tabwriter.Writer) {
			if r.OK {
				fmt.Fprintf(w, "audit chain intact: %d entries verified\n", r.Entries)
			} else {
				fmt.Fprintf(w, "audit chain BROKEN: %d problems\n", len(r.Problems))
				for _, p := range r.Problems {
					fmt.Fprintf(w, "  %s\t%s\t%s\n", p.Kind, p.EntryID, p.Message)
				}
			}
		}); err != nil {
			return err
		}
		if !r.OK {
			return errors.New("the audit chain does not verify")
		}
		return nil
	case "export":
		return c.client.Export(ctx, c.out)
	case "list":
		fs := flags("audit")
		limit := fs.Int("limit", 50, "page size")
		cursor := fs.String("cursor", "", "next_cursor of the previous page")
		if err := parse(fs, args); err != nil {
			return err
		}
		var page apiv1.AuditPage
		if err := c.client.Do(ctx, "GET", "audit"+apiv1.Query("limit", strconv.Itoa(*limit), "cursor", *cursor), nil, &page); err != nil {
			return err
		}
		return c.emit(page, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "WHEN\tWHO\tWHAT\tON")
			for _, e := range page.Entries {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s %s\n", e.CreatedAt.Format(time.RFC3339), e.Actor, e.Action, e.EntityType, e.EntityID)
			}
			if page.NextCursor != "" {
				fmt.Fprintf(w, "more: -cursor %s\n", page.NextCursor)
			}
		})
	}
	return fmt.Errorf("%w: audit list|verify|export", errUsage)
}

func (c *cli) watch(ctx context.Context, args []string) error {
	fs := flags("watch")
	types := fs.String("types", "", "event types: health,breaker,event,approval")
	service := fs.String("service", "", "one service")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := apiv1.Query("types", *types, "service", *service)
	last := ""
	for {
		var err error
		last, err = c.client.Stream(ctx, q, last, func(m apiv1.StreamMessage) error {
			if c.json {
				b, _ := json.Marshal(m.Event)
				_, err := fmt.Fprintf(c.out, "%s\n", b)
				return err
			}
			_, err := fmt.Fprintln(c.out, describe(m.Event))
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		var p *apiv1.Problem
		if errors.As(err, &p) {
			return err
		}
		// the stream ended (the hub restarted or dropped a slow reader): resume
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// describe renders a stream event as one line.
func describe(e apiv1.StreamEvent) string {
	at := e.At.Local().Format("15:04:05")
	switch e.Type {
	case "health":
		return fmt.Sprintf("%s health   %s: %s -> %s (%s)", at, e.ServiceName, e.From, e.To, e.Reason)
	case "breaker":
		return fmt.Sprintf("%s breaker  %s: %s -> %s", at, e.ServiceName, e.From, e.To)
	case "event":
		s := fmt.Sprintf("%s event    %s %s: %s", at, e.ServiceName, e.EventID, e.Status)
		if e.ResponseCode != 0 {
			s += fmt.Sprintf(" (%d, %.0f ms)", e.ResponseCode, e.LatencyMS)
		}
		if e.Error != "" {
			s += ": " + e.Error
		}
		return s
	case "approval":
		return fmt.Sprintf("%s approval %s requested by %s (%s)", at, e.Action, e.Actor, e.ApprovalID)
	case "reset":
		return fmt.Sprintf("%s reset    %s", at, e.Reason)
	}
	return fmt.Sprintf("%s %s", at, e.Type)
}

func (c *cli) do(ctx context.Context, args []string) error {
	fs := flags("do")
	yes := fs.Bool("yes", false, "run without asking")
	if err := parse(fs, args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" {
		return fmt.Errorf("%w: do needs a sentence", errUsage)
	}
	var plan apiv1.CommandPlan
	if err := c.client.Do(ctx, "POST", "commands/plan", apiv1.CommandRequest{Text: text}, &plan); err != nil {
		return err
	}
	if !plan.Understood {
		if c.json {
			return c.emit(plan, nil)
		}
		fmt.Fprintf(c.out, "not understood: %s\n", plan.Reason)
		for _, s := range plan.Suggestions {
			fmt.Fprintf(c.out, "  try: %s\n", s)
		}
		return errors.New("the sentence was not understood")
	}
	if !c.json {
		fmt.Fprintf(c.out, "plan: %s\n", plan.Summary)
	}
	if !plan.ReadOnly && !*yes {
		fmt.Fprint(c.out, "run it? [y/N] ")
		line, _ := c.in.ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(c.out, "not run")
			return nil
		}
	}
	var res apiv1.CommandResult
	if err := c.client.Do(ctx, "POST", "commands/run", apiv1.RunRequest{Plan: plan}, &res); err != nil {
		return err
	}
	if err := c.emit(res, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, res.Message)
		for _, e := range res.Events {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", e.ID, e.ServiceName, e.Status, e.CreatedAt.Format(time.RFC3339))
		}
	}); err != nil {
		return err
	}
	if !res.OK {
		return errors.New("the command did not succeed")
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (c *cli) remove(ctx context.Context, args []string) error {
	fs := flags("remove")
	drain := fs.Bool("drain", false, "deliver the queued events first")
	reason := fs.String("reason", "", "why, for the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: remove needs one service", errUsage)
	}
	var r apiv1.RemovalResult
	q := apiv1.Query("reason", *reason)
	if *drain {
		q = apiv1.Query("reason", *reason, "drain", "true")
	}
	if err := c.client.Do(ctx, "DELETE", "services/"+url.PathEscape(fs.Arg(0))+q, nil, &r); err != nil {
		return err
	}
	return c.emit(r, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "%s removed: %d queued events cancelled, %d still to finish, credentials destroyed: %t\n", r.Name, r.Cancelled, r.Remaining, r.CredentialsDestroyed)
	})
}
