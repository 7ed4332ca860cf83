// Command hubctl operates an Integration Hub through its management API (package hubhttp).
//
//	hubctl [-url URL] [-token TOKEN] [-o table|json] [-reason R] [-override R] COMMAND [ARGS]
//
// The URL and token default to $HUBCTL_URL and $HUBCTL_TOKEN. -reason is stored with a
// change the hub holds for approval; -override applies it at once as a chairman's override
// with that reason (both are headers the hub audits). Commands:
//
//	status                          every service: status, breaker, throughput, error rate, p95, cost
//	services                        the registered services
//	health [SERVICE]                health with reasons and early warnings
//	events [-service S] [-status S] [-since T] [-limit N] [-cursor C] [-newest]
//	                                events in pages (status may list several: failed,dead)
//	event EVENT-ID                  one event with its documents and outcome
//	retry EVENT-ID...               requeue failed or dead events
//	redrive [-service S] [-status dead|failed] [-since T] [EVENT-ID...]
//	                                requeue dead letters in bulk
//	pause SERVICE | resume SERVICE | reset-breaker SERVICE | open-breaker SERVICE
//	test SERVICE                    check the connection (stores and delivers nothing)
//	remove [-drain] [-reason R] SERVICE
//	                                remove a service (its queue cancelled, or delivered with -drain)
//	approvals                       approval requests waiting for a decision
//	approve ID | reject ID          decide an approval request
//	audit [list] [-limit N] [-cursor C] | audit verify | audit export
//	watch [-types health,breaker,event,approval] [-service S]
//	                                follow live changes until interrupted
//	do [-yes] SENTENCE...           plan a text command, and run it after confirmation
//	plan [-env E] FILE|FOLDER       what applying a configuration document would change
//	apply [-env E] [-yes] FILE|FOLDER
//	                                plan, show the diff and apply it after confirmation
//	export                          the hub's configuration as a YAML document
//	mapping preview -mapping FILE -sample FILE [-contract FILE | -service S]
//	                                apply a mapping to a sample: the output and every violation
//	                                at its path (exit status 1 when it is not valid)
//	mapping suggest -sample FILE (-contract FILE | -service S)
//	                                a suggested mapping from the sample to the contract
//	mapping save SERVICE -mapping FILE
//	                                store the mapping as the service's next mapping version
//	routes [-source S]              the active routes
//	route put NAME -file FILE       store a route as the next version of its name
//	route delete NAME               store a route inactive
//
// Mapping, sample and route files are JSON documents; a contract file is a JSON object with
// name, version and schema (a JSON Schema).
//
// Times are RFC 3339 or relative durations such as 2h or 30m (meaning that long ago).
// Exit status: 0 success, 1 the hub refused or failed, 2 bad usage.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
