// Package github is the GitHub REST API connector (kind "github").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  https://api.github.com (default) or a GitHub Enterprise Server API root,
//	          e.g. https://ghe.example.com/api/v3
//	auth      {"token": "...", "webhook_secret": "..."}: a personal access token or a
//	          GitHub App installation token, sent as "Authorization: Bearer"; the
//	          webhook secret verifies inbound deliveries
//	options   {"owner": "acme", "repo": "payments", "default_operation": "create_issue",
//	          "dispatch_event_type": "hub-event", "api_version": "2022-11-28"}
//
// Operations (GitHub docs "REST API endpoints for issues", "... for issue comments",
// "... for repositories" (repository_dispatch)); owner and repo come from
// Request.Params when present, else from options:
//
//	create_issue (default)  POST  /repos/{owner}/{repo}/issues
//	update_issue            PATCH /repos/{owner}/{repo}/issues/{number}
//	comment                 POST  /repos/{owner}/{repo}/issues/{number}/comments
//	repository_dispatch     POST  /repos/{owner}/{repo}/dispatches
//	list_issues (List)      GET   /repos/{owner}/{repo}/issues?since=...&state=all,
//	                        following the Link header's rel="next"; pull requests,
//	                        which GitHub returns from this endpoint too, are dropped
//	                        unless params.include_pull_requests is "true"
//
// The payload is mapped to GitHub's issue fields so the hub's canonical work item
// can be delivered as is: title; body from "body" or else "description"; labels;
// assignees; milestone when it is a number; for update_issue, state from "state" or
// else "closed" when "status" is "done". Response.RemoteID is the issue number (the
// comment id for comment).
//
// Rate limits (GitHub docs "Rate limits for the REST API"): a 403 or 429 with
// Retry-After, or with x-ratelimit-remaining: 0 (the delay is taken from
// x-ratelimit-reset), or a 403 whose documentation_url points at secondary rate
// limits (delay one minute, as the docs advise) is [connectors.ClassRateLimited];
// other 403s are auth failures. [ParseRateLimit] exposes the x-ratelimit-* headers
// for adaptive limiting. Check calls GET /rate_limit, which does not count against
// the primary limit.
//
// Webhooks (GitHub docs "Validating webhook deliveries"): VerifyWebhook checks
// X-Hub-Signature-256, "sha256=" followed by the hex HMAC-SHA256 of the raw body under
// the webhook secret, in constant time, and returns the event name from
// X-GitHub-Event and the delivery id from X-GitHub-Delivery. GitHub signs no
// timestamp, so replays are detected by delivery id (the hub's idempotency key), not
// by age.
package github
