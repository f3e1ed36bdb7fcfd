package scalesettest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// RegistrationTokenTTL is how long a registration token is valid (GitHub:
// one hour).
const RegistrationTokenTTL = time.Hour

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// scopeOf maps the registration-token path to its scope.
func scopeOf(r *http.Request) string {
	switch {
	case r.PathValue("org") != "":
		return "orgs/" + r.PathValue("org")
	case r.PathValue("ent") != "":
		return "enterprises/" + r.PathValue("ent")
	default:
		return "repos/" + r.PathValue("owner") + "/" + r.PathValue("repo")
	}
}

// POST /api/v3/{scope}/actions/runners/registration-token
func (s *Server) handleRegistrationToken(w http.ResponseWriter, r *http.Request) {
	if bearer(r) != s.opts.Token {
		writeGitHubError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	scope := scopeOf(r)
	if len(s.opts.Scopes) > 0 && !slices.Contains(s.opts.Scopes, scope) {
		writeGitHubError(w, http.StatusNotFound, "Not Found")
		return
	}
	tok := randomToken(15)
	s.mu.Lock()
	s.regTokens[tok] = scope
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":      tok,
		"expires_at": time.Now().Add(RegistrationTokenTTL).Format(time.RFC3339),
	})
}

// POST /api/v3/actions/runner-registration with "RemoteAuth <registration
// token>" and {"url": config URL, "runner_event": "register"}.
func (s *Server) handleRunnerRegistration(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "RemoteAuth ")
	s.mu.Lock()
	scope, known := s.regTokens[tok]
	s.mu.Unlock()
	if !ok || !known {
		writeGitHubError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	var body struct {
		URL         string `json:"url"`
		RunnerEvent string `json:"runner_event"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.RunnerEvent != "register" {
		s.violate("runner-registration: body %+v (%v)", body, err)
		writeGitHubError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	u, err := url.Parse(body.URL)
	if err != nil || u.Host != r.Host || !sameScope(scope, strings.Trim(u.Path, "/")) {
		writeGitHubError(w, http.StatusNotFound, "Not Found")
		return
	}
	claims := jwt.RegisteredClaims{
		Issuer:    "scalesettest",
		Subject:   scope,
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		ID:        randomToken(8),
	}
	admin, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(s.opts.Token))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.adminTokens[admin] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{
		"url":   s.http.URL + tenantRoot,
		"token": admin,
	})
}

// sameScope matches a config URL path ("acme", "acme/app",
// "enterprises/big") with a token scope.
func sameScope(scope, path string) bool {
	parts := strings.Split(path, "/")
	switch {
	case len(parts) == 1:
		return scope == "orgs/"+parts[0]
	case len(parts) == 2 && strings.EqualFold(parts[0], "enterprises"):
		return scope == "enterprises/"+parts[1]
	case len(parts) == 2:
		return scope == "repos/"+path
	}
	return false
}
