package config

import (
	"strings"
	"testing"
)

// TestGitHubToolCacheWritable: the shared tool cache is read-only for
// jobs unless a table for one repository enables it.
func TestGitHubToolCacheWritable(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		writable bool
		wantErr  string
	}{
		{"read-only by default", "https://github.com/acme", false, ""},
		{"writable for one repository", "https://github.com/acme/app", true, ""},
		{"not for an organization", "https://github.com/acme", true, "tool_cache_writable needs a url naming one repository"},
		{"not for an enterprise", "https://github.com/enterprises/big/x/y", true, "tool_cache_writable needs a url naming one repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := githubFromFile(GitHubFile{URL: tt.url, Token: "ghp_x", Labels: []string{"self-hosted"}, ToolCacheWritable: tt.writable})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.ToolCacheWritable != tt.writable {
				t.Errorf("ToolCacheWritable = %v, want %v", g.ToolCacheWritable, tt.writable)
			}
		})
	}
}
