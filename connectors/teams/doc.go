// Package teams is the Microsoft Teams webhook connector (kind "teams"): it posts
// Adaptive Cards to a Workflows webhook ("When a Teams webhook request is received")
// or a legacy incoming webhook, and verifies outgoing-webhook requests.
//
// Configuration by data ([connectors.Config]):
//
//	auth      {"webhook_url": "https://prod-00.westus.logic.azure.com/workflows/.../invoke?api-version=1&sp=...&sv=1.0&sig=..."}
//	          (or an incoming webhook https://{tenant}.webhook.office.com/webhookb2/...;
//	          without webhook_url, base_url is the webhook URL);
//	          "security_token" (base64) verifies outgoing-webhook requests;
//	          "graph_token" (a Microsoft Graph access token with ChannelMessage.Read.All)
//	          reads a channel's messages for List
//	options   {"webhook_max_age": "5m", "graph_base_url": "https://graph.microsoft.com/v1.0",
//	           "team_id": "...", "channel_id": "19:...@thread.tacv2"}
//
// The webhook URL's path and query are credentials: Info reports only its origin, and
// errors never contain it.
//
// Operation post (the default) sends {"type": "message", "attachments":
// [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
// "content": card}]} (Teams docs "Create Incoming Webhooks", "Post a workflow when a
// webhook request is received"). The payload is a Teams message (passed through), an
// Adaptive Card (wrapped), or a canonical work item made into a version 1.4 card: the
// title as a large bold TextBlock, description and text as wrapped TextBlocks, status
// and priority as a FactSet, and url as an "Open" Action.OpenUrl. A message over 28 KB
// ([MaxMessageBytes], the Teams message limit) is a permanent bad request, never sent.
// Workflows answer 202 Accepted; incoming webhooks 200 with body "1".
//
// Errors and throttling (Teams docs "Rate limiting for connectors"; Logic Apps
// errors): a 429 is rate-limited for Retry-After, or one second (connectors are
// throttled in fixed one-second windows) when there is none, and no post is sent
// before then. Incoming webhooks report a downstream failure as HTTP 200 whose body
// says "... returned HTTP error NNN ..."; that status is classified as if it had been
// the response's. Workflows error bodies {"error": {"code", "message"}} give the code
// (DirectApiAuthorizationRequired, WorkflowRequestsThrottled, ...). 401 and 403 are
// auth failures, 413 (message too large) and other 4xx permanent, 5xx transient.
//
// Check sends GET, which neither webhook kind serves: 2xx, 400 or 405 mean the
// endpoint is there, 404 and 410 that the webhook was removed (permanent), 401 and 403
// that its signature is refused.
//
// A webhook cannot read its channel; with auth.graph_token, List reads the channel's
// messages through Microsoft Graph (GET /teams/{team-id}/channels/{channel-id}/messages,
// $top 50, following @odata.nextLink on the Graph host only). Graph throttling (429, or
// 503 with Retry-After) holds further Graph calls back until Retry-After has passed, on
// a gate of its own: it never holds back webhook posts.
//
// VerifyWebhook checks an outgoing webhook's request (Teams docs "Create Outgoing
// Webhooks"): Authorization is "HMAC " + base64(HMAC-SHA256(base64-decoded security
// token, raw body)), compared in constant time. Teams signs no timestamp; with
// options.webhook_max_age the activity's own "timestamp" field, covered by the
// signature, must be within that age.
package teams
