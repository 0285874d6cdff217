package apt

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"sync"
)

// plainSums hashes the uncompressed Packages of an Index, which is the
// largest file a round hashes (17 MB at 20 000 packages) and whose digests
// the Release lists although S3 does not hold it. The hash state at the
// start of every gzip chunk is kept, so that an Index made by Apply
// resumes hashing at the first chunk that differs from its parent's: the
// stanzas before it are the same bytes, and need not be hashed again.
type plainSums struct {
	once sync.Once
	// states[i] are the marshaled MD5 and SHA-256 states before gzip
	// chunk i; set once the index's Packages was described.
	md5States, sha256States [][]byte
	file                    IndexFile
	ready                   chan struct{}
}

// inheritSums returns the parent's hash states before the chunks the two
// indexes share from their start, if the parent's Packages was described.
func inheritSums(chunks []*chunk, parent *Index) (md5s, sha256s [][]byte) {
	if parent == nil {
		return nil, nil
	}
	select {
	case <-parent.sums.ready:
	default:
		return nil, nil // not hashed (yet): this index hashes from the start
	}
	n := 0
	for n < len(chunks) && n < len(parent.gzChunks) && chunks[n] == parent.gzChunks[n] {
		n++
	}
	// The state before chunk n is the state after the shared chunks.
	n = min(n+1, len(parent.sums.md5States), len(chunks))
	return parent.sums.md5States[:n:n], parent.sums.sha256States[:n:n]
}

// describePlain returns Packages with its digests, hashing only what
// follows the inherited states.
func (ix *Index) describePlain(path string) IndexFile {
	s := &ix.sums
	s.once.Do(func() {
		defer close(s.ready)
		var wg sync.WaitGroup
		var md5Sum, sha256Sum string
		wg.Go(func() { md5Sum, s.md5States = ix.hashChunks(md5.New, s.md5States) })
		wg.Go(func() { sha256Sum, s.sha256States = ix.hashChunks(sha256.New, s.sha256States) })
		wg.Wait()
		s.file = IndexFile{Path: path, Data: ix.plain, Size: int64(len(ix.plain)), MD5: md5Sum, SHA256: sha256Sum}
	})
	f := s.file
	f.Path = path
	return f
}

// hashChunks hashes Packages chunk by chunk from the last of the inherited
// states, and returns the digest and the states before every chunk.
func (ix *Index) hashChunks(newHash func() hash.Hash, inherited [][]byte) (string, [][]byte) {
	h := newHash()
	states := make([][]byte, len(ix.gzChunks))
	copy(states, inherited)
	start, off := 0, 0
	if n := len(inherited); n > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(inherited[n-1]); err == nil {
			start = n - 1
			for _, c := range ix.gzChunks[:start] {
				off += textSize(c.items)
			}
		} else {
			h.Reset()
		}
	}
	for i := start; i < len(ix.gzChunks); i++ {
		if i >= len(inherited) {
			states[i], _ = h.(encoding.BinaryAppender).AppendBinary(nil)
		}
		n := textSize(ix.gzChunks[i].items)
		h.Write(ix.plain[off : off+n])
		off += n
	}
	return hex.EncodeToString(h.Sum(nil)), states
}
