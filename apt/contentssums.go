package apt

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"sync"
	"sync/atomic"
)

// contentsSums are the digests of the uncompressed Contents, which the
// Release lists (apt skips the target otherwise) and which is the largest
// thing a Contents round hashes (36 MB at 20 000 packages of 30 files).
// The hash states before every chunk are kept, so that an index made by
// Apply resumes hashing at the first chunk that differs from its parent's,
// as plainSums does for Packages.
type contentsSums struct {
	once   sync.Once
	parent *Contents // whose states this one may start from; dropped once used
	// states[i] are the marshaled MD5 and SHA-256 states before chunk i.
	md5States, sha256States [][]byte
	done                    atomic.Bool // the states are set
	file                    IndexFile
}

// Plain returns <component>/Contents-<arch>, the uncompressed index, with
// its digests but not its bytes: S3 does not hold it.
func (ct *Contents) Plain() IndexFile {
	s := &ct.sums
	s.once.Do(func() {
		parent := s.parent
		s.parent = nil // an index need not keep its ancestors alive
		var md5s, sha256s [][]byte
		if parent != nil && parent.sums.done.Load() {
			n := 0
			for n < len(ct.chunks) && n < len(parent.chunks) && ct.chunks[n] == parent.chunks[n] {
				n++
			}
			// The state before chunk n is the state after the shared chunks.
			n = min(n+1, len(parent.sums.md5States), len(ct.chunks))
			md5s, sha256s = parent.sums.md5States[:n:n], parent.sums.sha256States[:n:n]
		}
		var md5Sum, sha256Sum string
		var wg sync.WaitGroup
		wg.Go(func() { md5Sum, s.md5States = ct.hashChunks(md5.New, md5s) })
		wg.Go(func() { sha256Sum, s.sha256States = ct.hashChunks(sha256.New, sha256s) })
		size := int64(0)
		for _, l := range ct.lines {
			size += int64(len(l.text))
		}
		wg.Wait()
		s.file = IndexFile{Path: ct.component + "/" + ContentsPlainName(ct.arch), Size: size, MD5: md5Sum, SHA256: sha256Sum}
		s.done.Store(true)
	})
	return s.file
}

// hashChunks hashes the text chunk by chunk from the last inherited state
// and returns the digest and the states before every chunk.
func (ct *Contents) hashChunks(newHash func() hash.Hash, inherited [][]byte) (string, [][]byte) {
	h := newHash()
	states := make([][]byte, len(ct.chunks))
	copy(states, inherited)
	start := 0
	if n := len(inherited); n > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(inherited[n-1]); err == nil {
			start = n - 1
		} else {
			h.Reset()
		}
	}
	buf := make([]byte, 0, 64<<10)
	for i := start; i < len(ct.chunks); i++ {
		state, _ := h.(encoding.BinaryMarshaler).MarshalBinary() // md5 and sha256 states always marshal
		states[i] = state
		for _, l := range ct.chunks[i].lines {
			if len(buf)+len(l.text) > cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = append(buf, l.text...)
		}
		h.Write(buf)
		buf = buf[:0]
	}
	return hex.EncodeToString(h.Sum(nil)), states
}
