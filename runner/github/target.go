package github

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Scope kinds a Target can have.
const (
	ScopeOrg        = "org"
	ScopeRepo       = "repo"
	ScopeEnterprise = "enterprise"
)

// Target is where runners register: an organization, a repository or an
// enterprise, and the REST API that serves it.
type Target struct {
	Kind       string // ScopeOrg | ScopeRepo | ScopeEnterprise
	Org        string // org login, or repo owner
	Repo       string // repo name (ScopeRepo)
	Enterprise string // enterprise slug (ScopeEnterprise)
	// APIURL is https://api.github.com/ for github.com and
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	APIURL string
	// WebURL is the URL the target was parsed from.
	WebURL string
}

// ErrBadURL marks a GitHub URL the agent cannot use.
var ErrBadURL = errors.New("bad GitHub URL")

// ParseURL parses https://github.com/ORG, https://github.com/ORG/REPO or
// https://github.com/enterprises/ENT, or the same paths on a GitHub
// Enterprise Server host (whose API is under /api/v3).
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Target{}, fmt.Errorf("%w: %q: want https://github.com/ORG[/REPO]", ErrBadURL, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Target{}, fmt.Errorf("%w: %q: no query, fragment or user info allowed", ErrBadURL, raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	t := Target{WebURL: strings.TrimRight(u.String(), "/")}
	host := strings.ToLower(u.Host)
	if host == "github.com" || host == "www.github.com" {
		t.APIURL = "https://api.github.com/"
	} else {
		t.APIURL = u.Scheme + "://" + u.Host + "/api/v3/"
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return Target{}, fmt.Errorf("%w: %q: want https://github.com/ORG[/REPO]", ErrBadURL, raw)
		}
	}
	switch {
	case len(parts) == 2 && parts[0] == "enterprises":
		t.Kind, t.Enterprise = ScopeEnterprise, parts[1]
	case len(parts) == 1:
		t.Kind, t.Org = ScopeOrg, parts[0]
	case len(parts) == 2:
		t.Kind, t.Org, t.Repo = ScopeRepo, parts[0], parts[1]
	default:
		return Target{}, fmt.Errorf("%w: %q: want https://github.com/ORG, /ORG/REPO or /enterprises/ENT", ErrBadURL, raw)
	}
	return t, nil
}

// String names the target as GitHub's REST paths do ("orgs/acme").
func (t Target) String() string {
	switch t.Kind {
	case ScopeRepo:
		return "repos/" + t.Org + "/" + t.Repo
	case ScopeEnterprise:
		return "enterprises/" + t.Enterprise
	}
	return "orgs/" + t.Org
}
