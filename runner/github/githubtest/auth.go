package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// AddPAT accepts token (a personal access token) for the given scopes:
// "orgs/NAME", "enterprises/NAME" or "repos/OWNER/REPO".
func (s *Server) AddPAT(token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pats[token] = credential{kind: "pat", scopes: scopes}
}

// AddApp registers a GitHub App and returns its private key (PKCS#1 PEM,
// as GitHub hands it out). Its installation on account (an org login) has
// the given installation ID.
func (s *Server) AddApp(appID, installationID int64, account string) []byte {
	s.tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[appID] = &app{id: appID, key: &key.PublicKey, installations: map[int64]string{installationID: account}}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// InstallationTokensIssued counts installation access tokens minted (a
// client that caches them mints one per hour, not one per call).
func (s *Server) InstallationTokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.instTokens)
}

// token extracts the credential from "Authorization: token X" or "Bearer X".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"token ", "Bearer ", "bearer "} {
		if v, ok := strings.CutPrefix(h, p); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// authenticate resolves a request's credential; it answers 401 itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (credential, string, bool) {
	tok := bearer(r)
	if tok == "" {
		writeError(w, http.StatusUnauthorized, "Requires authentication", docAuth)
		return credential{}, "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.pats[tok]; ok {
		return c, tok, true
	}
	if it, ok := s.instTokens[tok]; ok {
		if !s.now().Before(it.expires) {
			writeError(w, http.StatusUnauthorized, "Bad credentials", docAuth)
			return credential{}, "", false
		}
		return credential{kind: "installation", scopes: []string{"orgs/" + it.account, "repos/" + it.account + "/*"}}, tok, true
	}
	if strings.Count(tok, ".") == 2 {
		// An App JWT: valid only on /app endpoints.
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", docAuth)
		return credential{}, "", false
	}
	writeError(w, http.StatusUnauthorized, "Bad credentials", docAuth)
	return credential{}, "", false
}

// covers reports whether c may act on scope (e.g. "orgs/acme").
func (c credential) covers(scope string) bool {
	for _, sc := range c.scopes {
		if sc == scope {
			return true
		}
		if prefix, ok := strings.CutSuffix(sc, "*"); ok && strings.HasPrefix(scope, prefix) {
			return true
		}
	}
	return false
}

// handleInstallationToken serves POST /app/installations/{id}/access_tokens:
// the caller authenticates as the App with a JWT signed RS256 by the App's
// private key, iss = the App ID, exp no more than 10 minutes after iat.
func (s *Server) handleInstallationToken(w http.ResponseWriter, r *http.Request) {
	instID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		notFound(w)
		return
	}
	raw := bearer(r)
	if raw == "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", docAuth)
		return
	}
	var claims jwt.RegisteredClaims
	var a *app
	_, err = jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != jwt.SigningMethodRS256.Alg() {
			return nil, fmt.Errorf("alg %s: want RS256", t.Method.Alg())
		}
		c := t.Claims.(*jwt.RegisteredClaims)
		id, err := strconv.ParseInt(c.Issuer, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("iss %q is not an App ID", c.Issuer)
		}
		s.mu.Lock()
		a = s.apps[id]
		s.mu.Unlock()
		if a == nil {
			return nil, fmt.Errorf("no App %d", id)
		}
		return a.key, nil
	}, jwt.WithoutClaimsValidation())
	if err != nil {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", docAuth)
		return
	}
	now := s.now()
	switch {
	case claims.ExpiresAt == nil || claims.IssuedAt == nil:
		writeError(w, http.StatusUnauthorized, "'Expiration time' claim ('exp') and 'Issued at' claim ('iat') are required.", docAuth)
		return
	case !now.Before(claims.ExpiresAt.Time):
		writeError(w, http.StatusUnauthorized, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.", docAuth)
		return
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute || claims.ExpiresAt.Sub(now) > 10*time.Minute+30*time.Second:
		writeError(w, http.StatusUnauthorized, "'Expiration time' claim ('exp') is too far in the future", docAuth)
		return
	case claims.IssuedAt.After(now.Add(60 * time.Second)):
		writeError(w, http.StatusUnauthorized, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.", docAuth)
		return
	}
	account, ok := a.installations[instID]
	if !ok {
		notFound(w)
		return
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	exp := now.Add(time.Hour).UTC().Truncate(time.Second)
	s.mu.Lock()
	s.instTokens[tok] = installToken{installationID: instID, account: account, expires: exp}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": tok, "expires_at": exp.Format(time.RFC3339),
		"permissions":          map[string]string{"organization_self_hosted_runners": "write", "administration": "write"},
		"repository_selection": "all",
	})
}
