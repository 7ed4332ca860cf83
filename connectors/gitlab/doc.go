// Package gitlab is the GitLab REST API v4 connector (kind "gitlab"), for GitLab.com
// and self-managed instances.
//
// Configuration by data ([connectors.Config]):
//
//	base_url  https://gitlab.com/api/v4 (default), or a self-managed instance's API root,
//	          e.g. https://gitlab.example.com/api/v4 or https://example.com/gitlab/api/v4
//	auth      {"token": "glpat-..."}                          personal, project or group access
//	                                                          token, sent as PRIVATE-TOKEN
//	          {"client_id": "...", "client_secret": "...",    an OAuth application; tokens from
//	           "refresh_token": "..."}                        {instance}/oauth/token, sent as Bearer
//	          "webhook_token" (X-Gitlab-Token) and "signing_token" verify webhooks
//	options   {"project": "acme/payments", "default_operation": "create_issue"}
//
// OAuth: the refresh-token grant runs through golang.org/x/oauth2; the token endpoint
// is the instance root's /oauth/token (not under /api/v4) unless auth.token_url says
// otherwise; the access token is cached and refreshed once when the API answers 401.
//
// Operations (GitLab docs "Issues API", "Notes API"); the project (numeric id or
// path, URL-encoded as GitLab requires) comes from params.project or options:
//
//	create_issue (default)  POST /projects/{id}/issues
//	update_issue            PUT  /projects/{id}/issues/{iid}
//	comment                 POST /projects/{id}/issues/{iid}/notes
//	mr_comment              POST /projects/{id}/merge_requests/{iid}/notes
//	list_issues (List)      GET  /projects/{id}/issues?pagination=keyset&order_by=updated_at&sort=asc
//
// Issue payloads carry GitLab's fields (title, description, labels as a comma-separated
// string or an array, assignee_ids, milestone_id, confidential, due_date,
// issue_type); update_issue takes state_event, or closes for status "done" and reopens
// for another status. Notes take body, comment, text or description. The iid comes
// from params.iid or payload iid. Response.RemoteID is the issue iid, or the note id.
//
// Pagination: List uses keyset pagination and follows the Link header's rel="next"
// (which must stay on the configured host); an instance that answers with offset
// pagination is followed by its Link header or X-Next-Page. Since maps to
// updated_after.
//
// Rate limits (GitLab docs "Rate limits", "RateLimit headers"): when a response's
// RateLimit-Remaining reaches 0, no request is sent before RateLimit-Reset (Unix
// seconds; RateLimit-ResetTime is the fallback). A 429 (body "Retry later") is
// rate-limited for Retry-After, else until RateLimit-Reset, with RateLimit-Name as its
// code. Errors: {"message": "..."}, {"message": {field: [...]}} and OAuth's {"error",
// "error_description"} become the message and code; 401 and 403 (insufficient_scope)
// are auth failures, other 4xx permanent, 5xx transient.
//
// Check reads the configured project (GET /projects/{id}), or GET /user without one.
// VerifyWebhook (GitLab docs "Webhooks"): X-Gitlab-Token must equal the webhook's
// secret token (constant time); with a signing token, the delivery's webhook-id,
// webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}", the Standard Webhooks scheme) must verify and the
// timestamp be within five minutes ([VerifySigned]). A secret token alone is not tied
// to the body or a time, so only the signing token detects tampering and replays.
package gitlab
