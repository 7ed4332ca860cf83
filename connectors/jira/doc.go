// Package jira is the Jira Cloud REST API v3 connector (kind "jira").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  the site, https://your-domain.atlassian.net (basic auth), or
//	          https://api.atlassian.com/ex/jira/{cloudid} (OAuth 2.0)
//	auth      {"email": "bot@acme.example", "api_token": "..."}         basic auth with an API token
//	          {"client_id": "...", "client_secret": "...",              OAuth 2.0 (3LO); the refresh
//	           "refresh_token": "..."}                                  token rotates on every use
//	          "webhook_secret" verifies admin webhooks; "token_url" overrides
//	          https://auth.atlassian.com/oauth/token
//	options   {"project_key": "PAY", "issue_type": "Bug", "priority_map": {"high": "High"},
//	           "jql": "project = PAY ORDER BY updated", "fields": ["summary", "status"],
//	           "default_operation": "create_issue", "webhook_max_age": "10m"}
//
// OAuth 2.0 (3LO): the refresh-token grant runs through golang.org/x/oauth2; the
// access token is cached, fetched by one caller at a time and refreshed once when the
// API answers 401, and the rotated refresh token replaces the old one in the cache.
// The first refresh token comes from the authorization-code flow, done outside the
// connector.
//
// Operations (Jira Cloud REST API v3, "Issues", "Issue comments", "Issue search"):
//
//	create_issue (default)  POST /rest/api/3/issue                       {"fields": {...}}
//	transition              GET  /rest/api/3/issue/{key}/transitions, then
//	                        POST /rest/api/3/issue/{key}/transitions     {"transition": {"id"}}
//	comment                 POST /rest/api/3/issue/{key}/comment         {"body": ADF}
//	search (and List)       POST /rest/api/3/search/jql                  {"jql", "maxResults", "nextPageToken"}
//
// create_issue sends the payload's "fields" as Jira's own, completed from the work
// item: project (params.project, payload project or options.project_key), issuetype
// (default Task), summary from title (cut to 255 characters), description as an
// Atlassian Document Format document ([ADF]: paragraphs at blank lines, hard breaks at
// newlines; an ADF document is passed through), labels (whitespace, forbidden in Jira
// labels, becomes "-") and priority through options.priority_map. Response.RemoteID is
// the issue key. transition takes params.transition (or payload transition or status):
// a transition id, a transition name or the name of the status it leads to; it is
// resolved among the available transitions. comment takes body, comment, text
// or description, as text or ADF; RemoteID is the comment id. The issue comes from
// params.issue or payload key.
//
// Search and List use the enhanced JQL search (params.jql or options.jql), following
// nextPageToken until isLast; ListRequest.Since adds updated >= ... to the query and
// Limit is maxResults (at most 100).
//
// Rate limits (Jira Cloud "Rate limiting"): a 429 is rate-limited for Retry-After, or
// until X-RateLimit-Reset (an ISO 8601 time) when that is later and the window is
// spent; its code is RateLimit-Reason (jira-burst-based, jira-quota-tenant-based, ...).
// When any response reports X-RateLimit-Remaining 0, no request is sent before
// X-RateLimit-Reset. Errors: {"errorMessages": [...], "errors": {field: message}}
// become the message; the class follows the status (401, and a plain-text 401 of
// basic auth, and 403 are auth failures, other 4xx permanent, 5xx transient).
//
// Check calls GET /rest/api/3/myself. VerifyWebhook (Jira Cloud "Webhooks"): an admin
// webhook registered with a secret sends X-Hub-Signature, "sha256=" + hex HMAC-SHA256
// of the raw body; a webhook an OAuth 2.0 app registered sends "Authorization: Bearer"
// with a JWT signed HS256 with the app's client secret, which must carry an unexpired
// exp ([VerifyJWT]). Admin webhooks sign no timestamp: with options.webhook_max_age the
// body's own "timestamp" (covered by the signature) must be that recent; Jira retries
// failed deliveries with the original body, so choose the window accordingly. The
// event is the body's webhookEvent, the delivery id X-Atlassian-Webhook-Identifier.
package jira
