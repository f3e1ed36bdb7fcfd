// Package githubtest is a strict fake GitHub for tests: the REST endpoints a
// runner fleet uses (just-in-time runner configs, runners, runner groups,
// GitHub App installation tokens), GitHub's authentication, status codes,
// error bodies and rate-limit headers, fault injection for primary and
// secondary rate limits, a queue of workflow jobs matched to runners by
// label set, and signed workflow_job webhook deliveries.
//
// The REST API is served the way GitHub Enterprise Server serves it, under
// /api/v3, so a client pointed at Server.URL exercises the GHES URL rules.
//
// GitHub's job protocol between the official runner and the Actions
// service is not public. In its place the fake offers a minimal TEST-ONLY
// protocol under /_runfleet_test/ (see runnerapi.go) that the stand-in
// runner in tests/githubrunner speaks: it exists only in this fake and says
// nothing about how GitHub hands out jobs.
package githubtest
