package apt

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far: on a shared
// machine the wall time per op says more about the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchContentsPackages are n packages of 30 files each, spread over
// shared directories as a real release's are.
func benchContentsPackages(n int) []ContentsPackage {
	pkgs := make([]ContentsPackage, n)
	for i := range pkgs {
		name := fmt.Sprintf("pkg%05d", i)
		p := ContentsPackage{Key: PackageKey{Name: name, Version: "1.0-1", Arch: "amd64"}, Section: "utils"}
		p.Files = append(p.Files, "usr/bin/"+name, "usr/share/doc/"+name+"/changelog.Debian.gz", "usr/share/doc/"+name+"/copyright")
		for j := range 27 {
			p.Files = append(p.Files, fmt.Sprintf("usr/lib/x86_64-linux-gnu/%s/module%02d.so", name, j))
		}
		slices.Sort(p.Files)
		pkgs[i] = p
	}
	return pkgs
}

// BenchmarkContentsFull renders and compresses Contents-amd64 of a
// 20 000-package release from scratch (a rebuild from the database).
func BenchmarkContentsFull(b *testing.B) {
	pkgs := benchContentsPackages(20000)
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		ct, err := NewContents("main", "amd64", pkgs)
		if err != nil {
			b.Fatal(err)
		}
		f := ct.File()
		p := ct.Plain()
		b.ReportMetric(float64(f.Size), "gz-bytes")
		b.ReportMetric(float64(p.Size), "plain-bytes")
	}
}

// BenchmarkContentsOnePackage adds one package to the 20 000-package
// Contents a worker keeps, as a one-package round does: Apply, the
// recompressed chunks, the file and its digests.
func BenchmarkContentsOnePackage(b *testing.B) {
	pkgs := benchContentsPackages(20001)
	base, err := NewContents("main", "amd64", pkgs[:20000])
	if err != nil {
		b.Fatal(err)
	}
	base.File()
	base.Plain() // as the round that built it did
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		ct, err := base.Apply(pkgs[20000:], nil)
		if err != nil {
			b.Fatal(err)
		}
		ct.File()
		ct.Plain()
	}
}
