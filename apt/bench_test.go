package apt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Benchmarks of index generation on synthetic repositories. Each reports
// base-RSS-MiB, the resident set before the timed loop (mostly the
// synthetic packages), and peak-RSS-MiB, the resident-set high-water mark
// (VmHWM) during the loop. Run one benchmark per process for a meaningful
// figure:
//
//	go test -bench 'FullGeneration100k$' -benchmem -run '^$' ./apt/

var (
	benchComponents = []string{"main", "contrib", "non-free", "extra"}
	benchArchs      = []string{"amd64", "arm64"}
	benchMeta       = ReleaseMeta{
		Origin: "aptq", Label: "bench", Suite: "stable", Codename: "bench", Generation: 1,
		Date:          time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Architectures: benchArchs, Components: benchComponents,
	}
)

var benchWords = strings.Fields(`the a library tool for and with of to in data files
	server client support utility network graphics fast small simple command line
	interface package development documentation runtime module plugin system
	configuration image audio video text parser compiler debugging headers shared`)

// synthRepo returns about n packages spread over benchComponents: about a
// tenth are Architecture: all, the others are built for both benchArchs,
// and most names have several versions, as in a repository fed by CI.
// Stanzas are 600-900 bytes, like Debian's.
func synthRepo(n int) map[string][]Package {
	rng := rand.New(rand.NewPCG(1, 2))
	repo := make(map[string][]Package)
	count := 0
	for i := 0; count < n; i++ {
		name := fmt.Sprintf("%s%s-%d", []string{"", "lib", "python3-", "golang-"}[i%4], benchWords[rng.IntN(len(benchWords))], i)
		component := benchComponents[i%len(benchComponents)]
		archs := benchArchs
		if i%10 == 0 {
			archs = []string{ArchAll}
		}
		for v := range 1 + rng.IntN(7) {
			version := fmt.Sprintf("%d.%d.%d-%d", rng.IntN(3), rng.IntN(20), v, 1+rng.IntN(3))
			if v%3 == 2 {
				version = "1:" + version + "~bpo12+1"
			}
			for _, arch := range archs {
				repo[component] = append(repo[component], synthPackage(rng, component, name, version, arch))
				count++
			}
		}
	}
	return repo
}

func synthPackage(rng *rand.Rand, component, name, version, arch string) Package {
	sentence := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = benchWords[rng.IntN(len(benchWords))]
		}
		return strings.Join(w, " ")
	}
	var desc strings.Builder
	desc.WriteString(sentence(4))
	for range 1 + rng.IntN(2) {
		desc.WriteString("\n " + sentence(8))
	}
	control := Paragraph{
		{"Package", name},
		{"Source", name + "-src"},
		{"Version", version},
		{"Architecture", arch},
		{"Maintainer", "Debian Go Packaging Team <team+pkg-go@tracker.debian.org>"},
		{"Installed-Size", strconv.Itoa(10 + rng.IntN(50000))},
		{"Depends", "libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0), " + benchWords[rng.IntN(len(benchWords))] + "-common (= " + version + ")"},
		{"Section", "utils"},
		{"Priority", "optional"},
		{"Homepage", "https://example.org/" + name},
		{"Description", desc.String()},
	}
	digest := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return hex.EncodeToString(b)
	}
	return Package{
		Control:  control,
		Filename: PoolPath(component, name+"-src", name, version, arch),
		Size:     int64(1000 + rng.IntN(1<<20)),
		MD5:      digest(16), SHA1: digest(20), SHA256: digest(32), SHA512: digest(64),
	}
}

// generateRelease generates every index of repo and its Release.
func generateRelease(b *testing.B, repo map[string][]Package, compressions []Compression) ([]IndexFile, []byte) {
	var files []IndexFile
	for _, component := range benchComponents {
		byArch := SplitByArch(repo[component], benchArchs)
		for _, arch := range benchArchs {
			generated, err := GenerateIndexes(component, arch, byArch[arch], compressions)
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, generated...)
		}
	}
	return files, BuildRelease(benchMeta, files)
}

func benchmarkFullGeneration(b *testing.B, n int, compressions []Compression) {
	repo := synthRepo(n)
	rss := startRSS()
	var files []IndexFile
	for b.Loop() {
		files, _ = generateRelease(b, repo, compressions)
	}
	reportSizes(b, files)
	rss.report(b)
}

// BenchmarkFullGeneration100k generates every Packages and Packages.gz of a
// 100 000-package release (4 components × 2 architectures) and its Release.
func BenchmarkFullGeneration100k(b *testing.B) {
	benchmarkFullGeneration(b, 100_000, []Compression{Gzip})
}

// BenchmarkFullGeneration100kXZ adds Packages.xz.
func BenchmarkFullGeneration100kXZ(b *testing.B) {
	benchmarkFullGeneration(b, 100_000, []Compression{Gzip, XZ})
}

// othersThanMainAmd64 is the metadata (Data nil) of the published files of
// every index but main/binary-amd64, the one the benchmarks change.
func othersThanMainAmd64(published []IndexFile) []IndexFile {
	var unchanged []IndexFile
	for _, f := range published {
		if !strings.HasPrefix(f.Path, "main/binary-amd64/") {
			f.Data = nil
			unchanged = append(unchanged, f)
		}
	}
	return unchanged
}

// benchmarkRegenerateOneChanged adds one package to a published release
// and regenerates only the index it belongs to, plus Release, reusing the
// other indexes' metadata (Data nil), as a round that adds one package does.
func benchmarkRegenerateOneChanged(b *testing.B, n int, compressions []Compression) {
	repo := synthRepo(n)
	published, _ := generateRelease(b, repo, compressions)
	unchanged := othersThanMainAmd64(published)
	rng := rand.New(rand.NewPCG(3, 4))
	repo["main"] = append(repo["main"], synthPackage(rng, "main", "hello-new", "1.0-1", "amd64"))
	rss := startRSS()
	var files []IndexFile
	for b.Loop() {
		changed, err := GenerateIndexes("main", "amd64", SplitByArch(repo["main"], []string{"amd64"})["amd64"], compressions)
		if err != nil {
			b.Fatal(err)
		}
		files = append(append(files[:0], unchanged...), changed...)
		BuildRelease(benchMeta, files)
	}
	reportSizes(b, files)
	rss.report(b)
}

// BenchmarkRegenerateOneChanged20k regenerates Packages and Packages.gz of
// one component × architecture of a 20 000-package release, and Release.
func BenchmarkRegenerateOneChanged20k(b *testing.B) {
	benchmarkRegenerateOneChanged(b, 20_000, []Compression{Gzip})
}

// BenchmarkRegenerateOneChanged20kXZ adds Packages.xz.
func BenchmarkRegenerateOneChanged20kXZ(b *testing.B) {
	benchmarkRegenerateOneChanged(b, 20_000, []Compression{Gzip, XZ})
}

// benchmarkApplyOneAdd adds one package to the main/binary-amd64 index
// of a 20 000-package release kept in memory (Index.Apply, as a worker
// that cut the previous round does) and builds its files and Release.
func benchmarkApplyOneAdd(b *testing.B, compressions []Compression) {
	repo := synthRepo(20_000)
	published, _ := generateRelease(b, repo, compressions)
	unchanged := othersThanMainAmd64(published)
	ix, err := NewIndex("main", "amd64", SplitByArch(repo["main"], []string{"amd64"})["amd64"])
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ix.Files(compressions); err != nil { // as published
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var files []IndexFile
	for i := 0; b.Loop(); i++ {
		added := synthPackage(rng, "main", fmt.Sprintf("hello-new-%d", i), "1.0-1", "amd64")
		next, err := ix.Apply([]Package{added}, nil)
		if err != nil {
			b.Fatal(err)
		}
		changed, err := next.Files(compressions)
		if err != nil {
			b.Fatal(err)
		}
		files = append(append(files[:0], unchanged...), changed...)
		BuildRelease(benchMeta, files)
	}
	reportSizes(b, files)
}

// BenchmarkApplyOneAdd20k builds Packages and Packages.gz after adding one
// package to a kept Index.
func BenchmarkApplyOneAdd20k(b *testing.B) {
	benchmarkApplyOneAdd(b, []Compression{Gzip})
}

// BenchmarkApplyOneAdd20kXZ adds Packages.xz.
func BenchmarkApplyOneAdd20kXZ(b *testing.B) {
	benchmarkApplyOneAdd(b, []Compression{Gzip, XZ})
}

// BenchmarkGzipLevel compresses one 12 500-package Packages file at several
// gzip levels; it is the measurement behind gzipLevel.
func BenchmarkGzipLevel(b *testing.B) {
	files, err := GenerateIndexes("main", "amd64", SplitByArch(synthRepo(50_000)["main"], benchArchs)["amd64"], nil)
	if err != nil {
		b.Fatal(err)
	}
	plain := files[0].Data
	for _, level := range []int{gzip.BestSpeed, 3, gzip.DefaultCompression, gzip.BestCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				buf.Reset()
				zw, err := gzip.NewWriterLevel(&buf, level)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = zw.Write(plain)
				_ = zw.Close()
			}
			b.ReportMetric(float64(len(plain))/float64(buf.Len()), "ratio")
			b.ReportMetric(float64(buf.Len())/1e6, "gz-MB")
		})
	}
}

// reportSizes reports the total uncompressed index size, for context.
func reportSizes(b *testing.B, files []IndexFile) {
	var plain int64
	for _, f := range files {
		if strings.HasSuffix(f.Path, "/Packages") {
			plain += f.Size
		}
	}
	b.ReportMetric(float64(plain)/1e6, "Packages-MB")
}

// rssProbe measures the resident set of the benchmark process.
type rssProbe struct{ baseKiB int }

// startRSS records the current resident set and resets the high-water mark
// (Linux ≥ 4.0), so that the reported peak covers the timed loop rather
// than the setup.
func startRSS() rssProbe {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // not Linux: no figures
	return rssProbe{baseKiB: procStatusKiB("VmRSS:")}
}

// report reports base-RSS-MiB (resident before the loop: mostly the input
// packages) and peak-RSS-MiB (VmHWM since startRSS).
func (p rssProbe) report(b *testing.B) {
	if peak := procStatusKiB("VmHWM:"); peak > 0 {
		b.ReportMetric(float64(p.baseKiB)/1024, "base-RSS-MiB")
		b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	}
}

// procStatusKiB returns a "<field> <n> kB" value of /proc/self/status, or 0.
func procStatusKiB(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kib
		}
	}
	return 0
}
