package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GetRound returns a round of one of the tenant's repositories with
// everything a signer checks before signing it.
func (c *Client) GetRound(ctx context.Context, id int64) (RoundView, error) {
	var v RoundView
	err := c.doJSON(ctx, http.MethodGet, "/v1/rounds/"+strconv.FormatInt(id, 10), nil, &v)
	return v, err
}

// FetchRepoFile reads a file of a repository through the server's public
// read path: repoURL is a URL such as RoundView.URL, of which only the path
// is used, so the read goes to this client's server; rel is relative to the
// repository root. A missing file is an *APIError with code not_found; a
// body over maxSize bytes is an error.
func (c *Client) FetchRepoFile(ctx context.Context, repoURL, rel string, maxSize int64) ([]byte, error) {
	u, err := url.Parse(repoURL)
	if err != nil || !strings.HasPrefix(u.Path, "/apt/") {
		return nil, fmt.Errorf("repository URL %q is not under /apt/", repoURL)
	}
	var data []byte
	err = c.do(ctx, call{method: http.MethodGet, path: strings.TrimRight(u.Path, "/") + "/" + rel,
		timeout: c.requestTimeout, raw: &data, maxBody: maxSize}, nil)
	return data, err
}
