// Command instructions counts the CPU instructions one event costs in each per-event
// implementation of the shared workload (the hub's pipeline, Benthos bloblang +
// jsonschema and the other peers of benchmarks.Peers), with valgrind's callgrind.
// Instruction counts do not depend on how loaded the machine is.
//
// It builds the benchmarks module's test binary and runs BenchmarkPipeline/<peer> under
// callgrind twice, with 1 and with n+1 iterations; the difference divided by n is the cost
// of one event without setup and compilation. From the repository root:
//
//	go -C benchmarks run ./cmd/instructions            # n = 2000, all peers
//	go -C benchmarks run ./cmd/instructions -n 500 -peers hub,bloblang+jsonschema
//
// It needs valgrind (Debian: apt-get install valgrind). GODEBUG=asyncpreemptoff=1 keeps
// the runtime's preemption signals out of the count; cpu.rdtscp=off keeps the runtime off
// an instruction valgrind does not decode; valgrind's fair scheduling keeps threads that
// spin waiting for each other from inflating the count on a loaded machine.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/ehg/hub/benchmarks"
)

func main() {
	n := flag.Int("n", 2000, "iterations whose cost is divided out")
	peers := flag.String("peers", strings.Join([]string{benchmarks.PeerHub, benchmarks.PeerBloblang, benchmarks.PeerExpr, benchmarks.PeerFloorJSON, benchmarks.PeerHandwritten}, ","), "peers to count, comma-separated")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, strings.Split(*peers, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "instructions:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, peers []string) error {
	if n <= 0 {
		return errors.New("-n must be positive")
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		return fmt.Errorf("valgrind not found (Debian: apt-get install valgrind): %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := benchmarks.LocateRepo(wd)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "benchmarks")
	tmp, err := os.MkdirTemp("", "hub-instructions-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bin := filepath.Join(tmp, "benchmarks.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = dir, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the test binary: %w", err)
	}
	counts := map[string]float64{}
	for _, p := range peers {
		var c [2]int64
		for i, iters := range []int{1, n + 1} {
			if c[i], err = collect(ctx, valgrind, bin, dir, p, iters); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		counts[p] = float64(c[1]-c[0]) / float64(n)
		fmt.Fprintf(os.Stderr, "%-22s %12.0f instructions/event\n", p, counts[p])
	}
	fmt.Printf("\nInstructions per event (callgrind, %d iterations, %s):\n\n", n, valgrindVersion())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "implementation\tinstructions/event\trelative to bloblang+jsonschema")
	ref := counts[benchmarks.PeerBloblang]
	for _, p := range peers {
		rel := ""
		switch {
		case p == benchmarks.PeerBloblang:
			rel = "1 (reference)"
		case ref > 0 && counts[p] > 0:
			rel = fmt.Sprintf("%.2f (%.2fx fewer)", counts[p]/ref, ref/counts[p])
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\n", p, counts[p], rel)
	}
	return tw.Flush()
}

var collected = regexp.MustCompile(`Collected\s*:\s*(\d+)`)

// collect runs BenchmarkPipeline/<peer> for iters iterations under callgrind and returns
// the instructions it collected.
func collect(ctx context.Context, valgrind, bin, dir, peer string, iters int) (int64, error) {
	// --fair-sched=yes: valgrind runs one thread at a time; with its default lock a thread
	// spinning in the Go scheduler or in runtime.GC (waiting for a sweep or mark on another
	// thread) can keep the lock for a whole time slice, and how often that happens depends
	// on the machine's load: counts then varied by millions of instructions per run. The
	// fair lock hands the CPU over in turn.
	cmd := exec.CommandContext(ctx, valgrind, "--tool=callgrind", "--fair-sched=yes", "--callgrind-out-file=/dev/null", bin,
		"-test.run", "^$", "-test.bench", "^BenchmarkPipeline$/^"+regexp.QuoteMeta(peer)+"$", "-test.benchtime", strconv.Itoa(iters)+"x")
	cmd.Dir = dir
	// cpu.rdtscp=off: valgrind (3.19 at least) does not decode RDTSCP, which the runtime's
	// cputicks executes when a contended lock goes to sleep; the fallback is a fence and
	// RDTSC, a handful of instructions on a path that is rarely taken.
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "BenchmarkPipeline/") {
		return 0, fmt.Errorf("no such benchmark (peers: see benchmarks.Peers)\n%s", out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if m := collected.FindStringSubmatch(sc.Text()); m != nil {
			return strconv.ParseInt(m[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("callgrind printed no total\n%s", out.String())
}

// valgrindVersion returns what valgrind --version prints.
func valgrindVersion() string {
	v, _ := exec.Command("valgrind", "--version").Output()
	return strings.TrimSpace(string(v))
}
