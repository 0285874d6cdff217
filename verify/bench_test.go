package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// benchPackage is a package with a stanza of about 900 bytes, like
// aptq-bench's (17.4 MB for 20 000 packages).
func benchPackage(rng *rand.Rand, i int) apt.Package {
	words := []string{"tool", "library", "daemon", "client", "server", "parser", "utility", "format", "network", "data"}
	var desc strings.Builder
	for j := range 44 {
		if j%8 == 0 && j > 0 {
			desc.WriteString("\n")
		}
		desc.WriteString(" " + words[rng.IntN(len(words))])
	}
	name := fmt.Sprintf("bench-pkg-%05d", i)
	p := pkg(name, fmt.Sprintf("1.%d.%d-1", i%7, rng.IntN(100)), "amd64")
	p.Control = append(p.Control[:4],
		apt.Field{Name: "Installed-Size", Value: fmt.Sprint(rng.IntN(50000))},
		apt.Field{Name: "Depends", Value: "libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0)"},
		apt.Field{Name: "Section", Value: "utils"}, apt.Field{Name: "Priority", Value: "optional"},
		apt.Field{Name: "Homepage", Value: "https://example.org/" + name},
		apt.Field{Name: "Description", Value: "the " + name + " package\n" + desc.String()})
	// As the worker does, render from the control paragraph as stored.
	control, err := apt.ParseParagraph(p.Control.AppendTo(nil))
	if err != nil {
		panic(err)
	}
	p.Control = control
	p.SHA256 = fmt.Sprintf("%064x", rng.Uint64())
	p.SHA512 = fmt.Sprintf("%0128x", rng.Uint64())
	p.MD5 = fmt.Sprintf("%032x", rng.Uint64())
	return p
}

// BenchmarkCheck20k is S1's verification: one package added to a release
// of 20 000 packages (one amd64 index; Packages listed but, as in a
// default release, not stored; .gz, and .gz and .xz), the by-hash objects
// served from memory. It covers the signature check of the previous
// InRelease, decompressing the previous Packages.gz and rebuilding the
// index from it, and checking the new .gz (decoded whole) and .xz (the
// Blocks that differ from the previous Packages.xz's).
func BenchmarkCheck20k(b *testing.B) {
	b.Run("gz", func(b *testing.B) { benchCheck(b, apt.Gzip) })
	b.Run("gz+xz", func(b *testing.B) { benchCheck(b, apt.Gzip, apt.XZ) })
}

func benchCheck(b *testing.B, compressions ...apt.Compression) {
	rng := rand.New(rand.NewPCG(1, 2))
	pkgs := make([]apt.Package, 20001)
	for i := range pkgs {
		pkgs[i] = benchPackage(rng, i)
	}
	priv, pub, err := sign.GenerateKey("bench", "b@example.com")
	if err != nil {
		b.Fatal(err)
	}
	key, err := sign.ParsePrivateKey(priv, nil)
	if err != nil {
		b.Fatal(err)
	}
	repo := &fakeRepo{objects: map[string][]byte{}}
	meta := baseMeta
	meta.Architectures = []string{"amd64"}
	files := func(pkgs []apt.Package) []apt.IndexFile {
		got, err := apt.GenerateIndexes("main", "amd64", pkgs, compressions)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range got {
			if !strings.HasSuffix(f.Path, "/Packages") {
				repo.store(f)
			}
		}
		return got
	}
	prevRelease := release(meta, 1, files(pkgs[:20000]))
	inRelease, _, err := sign.Sign(prevRelease, key)
	if err != nil {
		b.Fatal(err)
	}
	add := addOf(pkgs[20000])
	r2Files := files(pkgs)
	r := Round{ID: 2, Generation: 2, Release: release(meta, 2, r2Files), PreviousInRelease: inRelease,
		Changes: []Change{{ID: 1, JobID: 1, TokenName: "ci", Adds: []Add{add}}}}
	cfg := Config{PublicKeys: [][]byte{pub}, Now: testNow, OwnChange: 1, OwnAdds: map[int64][]string{1: {add.SHA256}}}
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if err := Check(context.Background(), cfg, r, repo); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine the CPU time is the steadier measure: the wall
	// time of a check spread over all CPUs is at most this.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	var plainSize int64
	for _, f := range r2Files {
		if f.Path == "main/binary-amd64/Packages" {
			plainSize = f.Size
		}
	}
	b.ReportMetric(float64(plainSize)/1e6, "Packages-MB")

}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
