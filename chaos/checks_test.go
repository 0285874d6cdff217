package chaos

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/jackc/pgx/v5"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/internal/observe"
	"github.com/aptq/aptq/internal/systest"
)

// dbChange is a change as the database has it after the run.
type dbChange struct {
	state, code, message, release string
}

// changesByJob returns every change of the run by its job id.
func (c *cluster) changesByJob(ctx context.Context) (map[int64]dbChange, int, error) {
	out := map[int64]dbChange{}
	total := 0
	err := c.pg.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT c.job_id, c.state, coalesce(c.error_code, ''), coalesce(c.error_message, ''), rel.name
			FROM changes c JOIN releases rel ON rel.id = c.release_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id *int64
			var ch dbChange
			if err := rows.Scan(&id, &ch.state, &ch.code, &ch.message, &ch.release); err != nil {
				return err
			}
			total++
			if id != nil {
				out[*id] = ch
			}
		}
		return rows.Err()
	})
	return out, total, err
}

// dbRelease is a release's generations in the database.
type dbRelease struct {
	name                  string
	generation, published int64
}

func (c *cluster) releases(ctx context.Context) ([]dbRelease, error) {
	var out []dbRelease
	err := c.pg.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT name, generation, published_generation FROM releases ORDER BY name`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbRelease, error) {
			var x dbRelease
			return x, r.Scan(&x.name, &x.generation, &x.published)
		})
		return err
	})
	return out, err
}

// counts runs a "SELECT label, count" query and renders it as "label n, …".
func (c *cluster) counts(ctx context.Context, sql string) string {
	var parts []string
	err := c.pg.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var label string
			var n int64
			if err := rows.Scan(&label, &n); err != nil {
				return err
			}
			parts = append(parts, fmt.Sprintf("%s %d", label, n))
		}
		return rows.Err()
	})
	if err != nil {
		return "error: " + err.Error()
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// s3Generation reads the release's InRelease from S3 itself (not through
// the proxy or the API) and returns its generation; 0 when there is none.
func (c *cluster) s3Generation(ctx context.Context, s *blob.S3, release string) (int64, error) {
	body, _, err := s.Get(ctx, c.Tenant+"/"+repoName+"/dists/"+release+"/InRelease", "")
	if errors.Is(err, blob.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	block, _ := clearsign.Decode(data)
	if block == nil {
		return 0, fmt.Errorf("InRelease of %s is not clearsigned", release)
	}
	rel, err := apt.ParseRelease(block.Plaintext)
	if err != nil {
		return 0, err
	}
	return rel.Meta.Generation, nil
}

// settled reports whether the system is at rest: no change pending or in a
// round, and for every release the committed generation is the published
// one and the one S3's InRelease carries. why says what is still moving.
func (c *cluster) settled(ctx context.Context, s *blob.S3) (ok bool, why string) {
	var unfinished int
	err := c.pg.query(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(*) FROM changes WHERE state IN ('pending', 'in_round')`).Scan(&unfinished)
	})
	if err != nil {
		return false, err.Error()
	}
	if unfinished > 0 {
		return false, fmt.Sprintf("%d changes pending or in a round", unfinished)
	}
	rels, err := c.releases(ctx)
	if err != nil {
		return false, err.Error()
	}
	for _, r := range rels {
		s3gen, err := c.s3Generation(ctx, s, r.name)
		if err != nil {
			return false, err.Error()
		}
		if r.generation != r.published || s3gen != r.generation {
			return false, fmt.Sprintf("release %s: generation %d, published_generation %d, S3 InRelease generation %d",
				r.name, r.generation, r.published, s3gen)
		}
	}
	return true, ""
}

// waitSettled polls settled until it holds or the deadline passes.
func (c *cluster) waitSettled(timeout time.Duration) (bool, string, time.Duration) {
	start := time.Now()
	s, err := blob.NewS3(context.Background(), c.s3)
	if err != nil {
		return false, err.Error(), 0
	}
	var why string
	for time.Since(start) < timeout {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var ok bool
		ok, why = c.settled(ctx, s)
		cancel()
		if ok {
			return true, "", time.Since(start)
		}
		time.Sleep(500 * time.Millisecond) // poll interval
	}
	return false, why, time.Since(start)
}

// indexEntry is one stanza of a published Packages file.
type indexEntry struct {
	pkg, version, arch, filename, sha256 string
	size                                 int64
}

// publishedMembers lists, per release, "name version arch" of every
// package of a published change: what the final indexes must hold (the
// run only adds packages).
func (c *cluster) publishedMembers(ctx context.Context) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	err := c.pg.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT rel.name, p.name, p.version, p.architecture
			FROM changes c
			JOIN releases rel ON rel.id = c.release_id
			CROSS JOIN LATERAL jsonb_array_elements(c.adds) a
			JOIN packages p ON p.id = (a->>'package_id')::bigint
			WHERE c.state = 'published'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rel, name, version, arch string
			if err := rows.Scan(&rel, &name, &version, &arch); err != nil {
				return err
			}
			if out[rel] == nil {
				out[rel] = map[string]bool{}
			}
			out[rel][name+" "+version+" "+arch] = true
		}
		return rows.Err()
	})
	return out, err
}

// finalIndex reads the release's published Packages files for each
// architecture through the API, by hash as apt does.
func (c *cluster) finalIndex(ctx context.Context, release string, archs []string) (map[string][]indexEntry, error) {
	base := c.repoURL(repoName) + "/dists/" + release + "/"
	data, status, err := observe.Get(ctx, http.DefaultClient, base+"InRelease")
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("InRelease of %s: HTTP %d %v", release, status, err)
	}
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("InRelease of %s is not clearsigned", release)
	}
	rel, err := apt.ParseRelease(block.Plaintext)
	if err != nil {
		return nil, err
	}
	out := map[string][]indexEntry{}
	for _, arch := range archs {
		path := "main/binary-" + arch + "/Packages.gz" // S3 holds no uncompressed index
		var sum string
		for _, f := range rel.Files {
			if f.Path == path {
				sum = f.SHA256
			}
		}
		if sum == "" {
			return nil, fmt.Errorf("%s: InRelease lists no %s", release, path)
		}
		body, status, err := observe.Get(ctx, http.DefaultClient, base+apt.ByHashPath(path, "SHA256", sum))
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("%s %s: HTTP %d %v", release, path, status, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", release, path, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s %s: %w", release, path, err)
		}
		out[arch] = parsePackages(body)
	}
	return out, nil
}

// parsePackages reads the fields the checks need from a Packages file.
func parsePackages(data []byte) []indexEntry {
	var out []indexEntry
	var e indexEntry
	flush := func() {
		if e.pkg != "" {
			out = append(out, e)
		}
		e = indexEntry{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch name {
		case "Package":
			e.pkg = value
		case "Version":
			e.version = value
		case "Architecture":
			e.arch = value
		case "Filename":
			e.filename = value
		case "SHA256":
			e.sha256 = value
		case "Size":
			e.size, _ = strconv.ParseInt(value, 10, 64)
		}
	}
	flush()
	return out
}

// checkIndex compares a release's final indexes with its published
// changes, and checks that every pool file they name is there with the
// right content. It returns the problems found.
func (c *cluster) checkIndex(ctx context.Context, release string, want map[string]bool, archs []string) []string {
	idx, err := c.finalIndex(ctx, release, archs)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	pool := map[string]indexEntry{}
	for _, arch := range archs {
		got := map[string]bool{}
		for _, e := range idx[arch] {
			got[e.pkg+" "+e.version+" "+e.arch] = true
			pool[e.filename] = e
		}
		for m := range want {
			fields := strings.Fields(m)
			if fields[2] != arch && fields[2] != "all" {
				continue
			}
			if !got[m] {
				problems = append(problems, fmt.Sprintf("%s binary-%s: published %q is missing", release, arch, m))
			}
			delete(got, m)
		}
		for m := range got {
			problems = append(problems, fmt.Sprintf("%s binary-%s: %q is listed but no published change added it", release, arch, m))
		}
	}
	for filename, e := range pool {
		body, status, err := observe.Get(ctx, http.DefaultClient, c.repoURL(repoName)+"/"+filename)
		if err != nil || status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("%s: pool file %s: HTTP %d %v", release, filename, status, err))
			continue
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != e.sha256 || int64(len(body)) != e.size {
			problems = append(problems, fmt.Sprintf("%s: pool file %s has other content", release, filename))
		}
	}
	sort.Strings(problems)
	return problems
}

// aptUpdate runs a real apt-get update of the release with a throwaway
// configuration (as e2e/apt_test.go), and returns an error on a non-zero
// exit or on any warning or error line.
func aptUpdate(t *testing.T, url, release, pubKeyArmored string) error {
	t.Helper()
	apt, err := systest.NewApt(t.TempDir(), url, release, "main", pubKeyArmored)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = apt.Run(ctx, "update")
	return err
}
