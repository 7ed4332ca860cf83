// Package notion is the Notion API connector (kind "notion"): database rows and pages
// with typed properties, block content, database queries and webhook verification.
//
// Configuration by data ([connectors.Config]):
//
//	base_url  https://api.notion.com/v1 (default)
//	auth      {"token": "ntn_...", "webhook_verification_token": "secret_..."}
//	          an internal integration secret or a public integration's access token
//	options   {"database_id": "...", "parent_page_id": "...", "notion_version": "2022-06-28",
//	           "default_operation": "create_row", "content_from": "description",
//	           "properties": {"Name": {"type": "title", "from": "title"},
//	                          "Status": {"type": "status", "from": "status"},
//	                          "Labels": {"type": "multi_select", "from": "labels"}},
//	           "webhook_max_age": "5m"}
//
// Every request carries "Authorization: Bearer" and Notion-Version (default
// 2022-06-28, the version whose database endpoints this connector uses).
//
// Operations (Notion API "Pages", "Blocks", "Databases"):
//
//	create_row (default)  POST  /v1/pages   parent {"database_id"}, properties, children
//	create_page           POST  /v1/pages   parent {"page_id"}, title, children
//	update_page           PATCH /v1/pages/{params.page_id or payload id}
//	append_blocks         PATCH /v1/blocks/{id}/children
//	query_database (List) POST  /v1/databases/{id}/query with start_cursor / next_cursor
//
// Properties: options.properties maps each database property to a payload dotted path
// and a type, and [PropertyValue] builds Notion's value: title and rich_text (text in
// rich text objects), number, select, multi_select (array or comma-separated), status,
// date (RFC 3339 or YYYY-MM-DD), checkbox, url, email, phone_number, people and
// relation (ids). A payload's own "properties" object, in Notion's shape, is laid over
// the mapped ones. The page's content is the payload's "children" blocks, or the text
// at content_from as paragraph blocks (one per blank-line-separated paragraph).
// Response.RemoteID is the page id.
//
// Limits (Notion API "Request limits") are enforced before sending, as permanent bad
// requests: text is split into rich text objects of at most 2000 characters (counted
// in UTF-16 code units, never splitting a character) and an array may hold 100 of
// them ([RichText]); 100 blocks per request; URLs up to 2000 characters, emails and
// phone numbers up to 200; 100 multi-select options, people or relations; 500 KB per
// request.
//
// Pagination: List queries the database oldest edit first; ListRequest.Since filters
// on last_edited_time, the cursor is next_cursor while has_more.
//
// Errors (Notion API "Status codes"): {"object": "error", "status", "code",
// "message"}; the code classifies ([ClassForCode]): rate_limited (429) is rate-limited
// for Retry-After, and nothing is sent before then; unauthorized and
// restricted_resource are auth failures; conflict_error, internal_server_error,
// service_unavailable, database_connection_unavailable and gateway_timeout are
// transient; validation_error, invalid_json, invalid_request(_url), missing_version
// and object_not_found are permanent. Notion publishes no rate-limit headers; its
// average of three requests a second is for the caller's rate limit to enforce.
//
// Check calls GET /v1/users/me. VerifyWebhook (Notion API "Webhooks"):
// X-Notion-Signature is "sha256=" + hex HMAC-SHA256 of the raw body under the
// subscription's verification token, compared in constant time. Notion signs no
// timestamp; with options.webhook_max_age the event's own "timestamp", covered by the
// signature, must be that recent (Notion retries deliveries, so allow for them).
package notion
