// nats-load: the JetStream side of bench/kafka-vs-nats.ts, with NATS's own Go client (built
// offline from Debian's golang-go and golang-github-nats-io-go-nats-dev). publish: W goroutines
// each publishing M-byte messages and waiting for the stream's acknowledgement (W messages in
// flight); consume: a pull consumer reading the stream from the start. Prints one JSON line.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

type result struct {
	Messages          int     `json:"messages"`
	Errors            int     `json:"errors"`
	MessagesPerSecond float64 `json:"messagesPerSecond"`
	MegabytesPerSec   float64 `json:"megabytesPerSecond"`
	AckP50Ms          float64 `json:"ackP50Ms"`
	AckP99Ms          float64 `json:"ackP99Ms"`
	ElapsedMs         float64 `json:"elapsedMs"`
	CPUSeconds        float64 `json:"generatorCpuSeconds"`
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return float64(usage.Utime.Sec+usage.Stime.Sec) + float64(usage.Utime.Usec+usage.Stime.Usec)/1e6
}

func fail(message string, err error) {
	fmt.Fprintln(os.Stderr, message, err)
	os.Exit(2)
}

func main() {
	servers := flag.String("servers", "nats://127.0.0.1:4222", "comma-separated server URLs")
	mode := flag.String("mode", "publish", "publish | consume | setup")
	stream := flag.String("stream", "BENCH", "stream name")
	subject := flag.String("subject", "bench.data", "subject")
	size := flag.Int("size", 1024, "message size in bytes")
	window := flag.Int("window", 64, "publishes awaiting acknowledgement at once")
	duration := flag.Duration("duration", 10*time.Second, "publish duration")
	count := flag.Int("messages", 100000, "consume: messages to read")
	flag.Parse()

	connection, err := nats.Connect(*servers)
	if err != nil {
		fail("cannot connect:", err)
	}
	defer connection.Close()
	js, err := connection.JetStream(nats.MaxWait(10 * time.Second))
	if err != nil {
		fail("no JetStream:", err)
	}
	switch *mode {
	case "setup":
		_ = js.DeleteStream(*stream)
		_, err = js.AddStream(&nats.StreamConfig{Name: *stream, Subjects: []string{*subject}, Replicas: 3, Storage: nats.FileStorage})
		if err != nil {
			fail("cannot create the stream:", err)
		}
		fmt.Println(`{"created":true}`)
	case "publish":
		publish(js, *subject, *size, *window, *duration)
	case "consume":
		consume(js, *stream, *subject, *count)
	default:
		fail("unknown mode", fmt.Errorf("%s", *mode))
	}
}

func publish(js nats.JetStreamContext, subject string, size, window int, duration time.Duration) {
	payload := []byte(strings.Repeat("x", size))
	deadline := time.Now().Add(duration)
	latencies := make([][]time.Duration, window)
	errors := make([]int, window)
	cpuStart := cpuSeconds()
	start := time.Now()
	var group sync.WaitGroup
	for worker := 0; worker < window; worker++ {
		group.Add(1)
		go func(worker int) {
			defer group.Done()
			for time.Now().Before(deadline) {
				begin := time.Now()
				if _, err := js.Publish(subject, payload); err != nil {
					errors[worker]++
					continue
				}
				latencies[worker] = append(latencies[worker], time.Since(begin))
			}
		}(worker)
	}
	group.Wait()
	elapsed := time.Since(start)
	all := []time.Duration{}
	errorCount := 0
	for worker := range latencies {
		all = append(all, latencies[worker]...)
		errorCount += errors[worker]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	quantile := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
	}
	print(result{
		Messages: len(all), Errors: errorCount, MessagesPerSecond: float64(len(all)) / elapsed.Seconds(),
		MegabytesPerSec: float64(len(all)*size) / 1e6 / elapsed.Seconds(), AckP50Ms: quantile(0.5), AckP99Ms: quantile(0.99),
		ElapsedMs: float64(elapsed.Milliseconds()), CPUSeconds: cpuSeconds() - cpuStart,
	})
}

func consume(js nats.JetStreamContext, stream, subject string, count int) {
	subscription, err := js.PullSubscribe(subject, "", nats.BindStream(stream), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		fail("cannot subscribe:", err)
	}
	cpuStart := cpuSeconds()
	var start time.Time
	received, bytes := 0, 0
	for received < count {
		messages, err := subscription.Fetch(1000, nats.MaxWait(5*time.Second))
		if err != nil {
			break
		}
		if start.IsZero() {
			start = time.Now()
		}
		for _, message := range messages {
			bytes += len(message.Data)
		}
		received += len(messages)
	}
	elapsed := time.Since(start)
	print(result{
		Messages: received, MessagesPerSecond: float64(received) / elapsed.Seconds(), MegabytesPerSec: float64(bytes) / 1e6 / elapsed.Seconds(),
		ElapsedMs: float64(elapsed.Milliseconds()), CPUSeconds: cpuSeconds() - cpuStart,
	})
}

func print(value result) {
	encoded, _ := json.Marshal(value)
	fmt.Println(string(encoded))
}
