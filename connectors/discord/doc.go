// Package discord is the Discord webhook connector (kind "discord").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  the API root; default the root of auth.webhook_url, else
//	          https://discord.com/api/v10
//	auth      {"webhook_url": "https://discord.com/api/webhooks/{id}/{token}"}
//	          or {"webhook_id": "...", "webhook_token": "..."};
//	          "public_key" (hex Ed25519) verifies interactions; "bot_token" reads a
//	          channel's messages for List (alone, it configures a list-only connector)
//	options   {"username": "Integration Hub", "avatar_url": "...", "thread_id": "...",
//	           "default_operation": "execute_webhook", "no_wait": false,
//	           "channel_id": "..." (the channel List reads)}
//
// The webhook token is a credential: it never appears in Info or in errors.
//
// Operations (Discord docs "Webhook Resource"):
//
//	execute_webhook (default)  POST  /webhooks/{id}/{token}?wait=true[&thread_id=]
//	edit_message               PATCH /webhooks/{id}/{token}/messages/{params.message_id}
//
// The payload is Discord's message (content, embeds, username, avatar_url, tts,
// allowed_mentions, components, flags, thread_name, applied_tags, poll), passed
// through; a canonical work item without content or embeds becomes one embed (title,
// description, url, Status and Priority fields). With ?wait=true Discord answers with
// the message, whose id is Response.RemoteID. Discord's documented limits are checked
// before sending — content 2000 characters, 10 embeds, title 256, description 4096, 25
// fields of name 256 and value 1024, footer 2048, author name 256, 6000 characters
// across all embeds — and a message over them is a permanent bad request.
//
// Rate limits (Discord docs "Rate Limits"): requests of one route go one at a time, so
// each sees the bucket state the previous response reported. Each response's
// X-RateLimit-Bucket names
// the bucket of its route; when X-RateLimit-Remaining reaches 0, no request is sent on
// that bucket before X-RateLimit-Reset-After has passed (the call fails at once,
// rate-limited, with the remaining wait), while other buckets go on. A 429 is
// rate-limited for the body's retry_after (milliseconds precise; Retry-After is the
// rounded fallback) and closes its bucket, or, when global (X-RateLimit-Global or
// "global": true), every route. Its code is the X-RateLimit-Scope ("user", "shared")
// or "global".
//
// Errors: Discord's {"code", "message", "errors"}; the numeric code is the error code.
// 401 (50027 Invalid Webhook Token) and 403 (50013 Missing Permissions) are auth
// failures, 404 (10015 Unknown Webhook) and 400 (50035 Invalid Form Body) permanent,
// 5xx transient.
//
// Check fetches the webhook (GET /webhooks/{id}/{token}), or with a bot token only the
// bot's user (GET /users/@me). A webhook cannot read its channel; with auth.bot_token,
// List reads the channel's messages (GET /channels/{channel.id}/messages, limit 100,
// newest first, before= the last id of the previous page), under the same per-route
// rate-limit buckets. VerifyWebhook verifies interactions
// (Discord docs "Interactions", security and authorization): X-Signature-Ed25519 is
// the Ed25519 signature of X-Signature-Timestamp + raw body under the application's
// public key; timestamps more than five minutes from now are stale.
package discord
