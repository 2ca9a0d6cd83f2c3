// etcd-load: the load generator the KV benchmark uses against etcd, so that etcd is measured
// with its own best client (the Go clientv3), not a JavaScript one that saturates first.
// Built offline from Debian's golang-go and golang-etcd-server-dev (see bench/kv-vs-etcd.ts).
// It mirrors `cairn bench kv`: C concurrent workers for D seconds, each doing puts or
// (linearizable) gets of B-byte values on a fixed key space, and prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type result struct {
	Ops          int     `json:"ops"`
	Errors       int     `json:"errors"`
	OpsPerSecond float64 `json:"opsPerSecond"`
	P50Ms        float64 `json:"p50Ms"`
	P99Ms        float64 `json:"p99Ms"`
	P999Ms       float64 `json:"p999Ms"`
	ElapsedMs    float64 `json:"elapsedMs"`
	CPUSeconds   float64 `json:"generatorCpuSeconds"`
}

// leaderOf asks every endpoint for its status and returns the leader's endpoint.
func leaderOf(endpoints []string) string {
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot connect:", err)
		os.Exit(2)
	}
	defer client.Close()
	for _, endpoint := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, err := client.Status(ctx, endpoint)
		cancel()
		if err == nil && status.Leader == status.Header.MemberId {
			return endpoint
		}
	}
	fmt.Fprintln(os.Stderr, "no endpoint is the leader")
	os.Exit(2)
	return ""
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints")
	concurrency := flag.Int("concurrency", 64, "concurrent workers")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	valueSize := flag.Int("value-size", 256, "value size in bytes")
	readRatio := flag.Float64("read-ratio", 0, "fraction of operations that are reads")
	keys := flag.Int("keys", 1000, "number of distinct keys")
	serializable := flag.Bool("serializable", false, "serializable (local) reads instead of linearizable")
	target := flag.String("target", "leader", "leader: send to the leader only (as Cairn's bench does); all: balance over every endpoint")
	flag.Parse()

	chosen := strings.Split(*endpoints, ",")
	if *target == "leader" {
		chosen = []string{leaderOf(chosen)}
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: chosen, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot connect:", err)
		os.Exit(2)
	}
	defer client.Close()
	value := strings.Repeat("x", *valueSize)
	deadline := time.Now().Add(*duration)
	latencies := make([][]time.Duration, *concurrency)
	errorCounts := make([]int, *concurrency)
	var cpuStart syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpuStart)
	start := time.Now()
	var wg sync.WaitGroup
	for worker := 0; worker < *concurrency; worker++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			random := rand.New(rand.NewSource(int64(worker)))
			for time.Now().Before(deadline) {
				key := fmt.Sprintf("bench/%d", random.Intn(*keys))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				begin := time.Now()
				var opErr error
				if random.Float64() < *readRatio {
					options := []clientv3.OpOption{}
					if *serializable {
						options = append(options, clientv3.WithSerializable())
					}
					_, opErr = client.Get(ctx, key, options...)
				} else {
					_, opErr = client.Put(ctx, key, value)
				}
				cancel()
				if opErr != nil {
					errorCounts[worker]++
					continue
				}
				latencies[worker] = append(latencies[worker], time.Since(begin))
			}
		}(worker)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var cpuEnd syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpuEnd)
	all := []time.Duration{}
	errors := 0
	for worker := range latencies {
		all = append(all, latencies[worker]...)
		errors += errorCounts[worker]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	quantile := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
	}
	cpu := func(usage syscall.Rusage) float64 {
		return float64(usage.Utime.Sec+usage.Stime.Sec) + float64(usage.Utime.Usec+usage.Stime.Usec)/1e6
	}
	out := result{
		Ops: len(all), Errors: errors, OpsPerSecond: float64(len(all)) / elapsed.Seconds(),
		P50Ms: quantile(0.5), P99Ms: quantile(0.99), P999Ms: quantile(0.999),
		ElapsedMs: float64(elapsed.Milliseconds()), CPUSeconds: cpu(cpuEnd) - cpu(cpuStart),
	}
	encoded, _ := json.Marshal(out)
	fmt.Println(string(encoded))
}
