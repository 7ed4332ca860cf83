// Package slack is the Slack Web API connector (kind "slack").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  https://slack.com/api (default)
//	auth      {"bot_token": "xoxb-...", "signing_secret": "...",
//	           "webhook_url": "https://hooks.slack.com/services/T/B/X"}
//	options   {"channel": "C0123456789", "default_operation": "chat.postMessage"}
//
// bot_token is required unless only incoming webhooks are used. webhook_url is a
// credential (its path is the secret), which is why it lives in auth.
//
// Operations (Slack docs "chat.postMessage", "chat.update", "conversations.list",
// "Sending messages using incoming webhooks"):
//
//	chat.postMessage (default)  POST {base}/chat.postMessage
//	chat.update                 POST {base}/chat.update (needs ts)
//	conversations.list (List)   POST {base}/conversations.list, cursor pagination via
//	                            response_metadata.next_cursor
//	webhook                     POST to auth.webhook_url
//
// The payload may be a Slack message (channel, text, blocks, attachments, thread_ts,
// ...), which is sent as is, or the hub's canonical work item, from which a text is
// built: "*title* (status, priority) url". The channel comes from Request.Params,
// then the payload, then options. Response.RemoteID is the message ts.
//
// Errors (Slack docs "Web API basics" and "Rate limits"): the Web API answers HTTP
// 200 with "ok": false and an error code. ratelimited is rate-limited (Retry-After
// honoured); invalid_auth, not_authed, token_revoked, token_expired,
// account_inactive, missing_scope, no_permission and the like are auth failures;
// internal_error, fatal_error, service_unavailable and request_timeout are
// transient; every other code (channel_not_found, invalid_blocks, msg_too_long, ...)
// is permanent. HTTP 429 with Retry-After is rate-limited; other statuses follow
// connectors.ClassForStatus.
//
// Check calls auth.test. VerifyWebhook implements Slack's request signing (Slack docs
// "Verifying requests from Slack"): X-Slack-Signature is "v0=" plus the hex
// HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{raw body}" under the signing
// secret, compared in constant time, and timestamps more than five minutes from
// now are rejected as replays.
package slack
