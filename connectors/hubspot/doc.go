// Package hubspot is the HubSpot CRM v3 connector (kind "hubspot").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  https://api.hubapi.com (default)
//	auth      {"token": "pat-na1-..."}                        a private app's access token
//	          {"client_id": "...", "client_secret": "...",     a public app (OAuth 2.0): the
//	           "refresh_token": "..."}                         refresh token renews access tokens
//	          "webhook_secret" (default client_secret) verifies X-HubSpot-Signature-v3;
//	          "access_token"/"expires_at" seed the OAuth cache; "token_url" overrides
//	          {base_url}/oauth/v1/token
//	options   {"object_type": "contacts", "default_operation": "create",
//	           "id_property": "email", "properties": ["email", "firstname"],
//	           "webhook_url": "https://hooks.example.com/hubspot",
//	           "time_zone": "America/New_York"}
//
// OAuth: the refresh-token grant runs through golang.org/x/oauth2 with the client
// credentials in the form, as HubSpot's token endpoint expects; the token is cached,
// fetched by one caller at a time and refreshed once when the API answers 401.
// Obtaining the first refresh token is the authorization-code flow, done once outside
// the connector.
//
// Operations (HubSpot docs "CRM API | Objects"); the object type (contacts,
// companies, deals, or any object type) comes from params.object_type or options:
//
//	create (default)  POST  /crm/v3/objects/{type}               {"properties": {...}}
//	update            PATCH /crm/v3/objects/{type}/{id}          (params.id or payload id;
//	                                                              ?idProperty= from id_property)
//	batch_create      POST  /crm/v3/objects/{type}/batch/create  {"inputs": [{"properties"}]}
//	batch_update      POST  /crm/v3/objects/{type}/batch/update  {"inputs": [{"id","properties"}]}
//	batch_upsert      POST  /crm/v3/objects/{type}/batch/upsert  {"inputs": [{"id","idProperty","properties"}]}
//	list (List)       GET   /crm/v3/objects/{type}?limit=100&after=...; with Since,
//	                  POST  /crm/v3/objects/{type}/search on the last-modified date
//
// A record payload is either HubSpot's shape ({"properties": {...}, "id", "idProperty",
// "associations"}) or a flat object whose scalar fields are the properties (nested
// objects and arrays are skipped). Batch payloads are {"inputs": [...]},
// {"records": [...]} or an array of records, at most 100 ([MaxBatchInputs]); an
// upsert input without "id" takes the value of its id_property property.
// Response.RemoteID is the record id; for batches, the ids written, comma-separated. A
// batch answered 207 Multi-Status (some inputs failed) is a permanent error naming how
// many failed, so the batch is not retried whole.
//
// Rate limits (HubSpot docs "API usage guidelines and limits"): every response's
// X-HubSpot-RateLimit-Remaining (burst window of
// X-HubSpot-RateLimit-Interval-Milliseconds), -Secondly-Remaining and
// -Daily-Remaining are read ([ParseRateLimit]); when one reaches 0, further calls are
// not sent before the window resets (the daily limit resets at midnight in
// options.time_zone) and fail at once with a rate-limited error carrying the wait. A
// 429 ({"errorType": "RATE_LIMIT", "policyName": ...}) is rate-limited for
// Retry-After, else the burst interval, or until midnight for the DAILY policy; its
// code is the policy name.
//
// Errors: HubSpot's {"status": "error", "message", "category", "correlationId"}; the
// category is the error code and the class follows the status (401
// INVALID_AUTHENTICATION and 403 MISSING_SCOPES are auth failures, 409 CONFLICT and
// 400 VALIDATION_ERROR permanent, 5xx transient).
//
// Check reads one record of the configured object type. VerifyWebhook implements
// HubSpot's v3 request signature (HubSpot docs "Validating requests"):
// X-HubSpot-Signature-v3 is the base64 HMAC-SHA256, under the app's client secret, of
// method + URI + body + X-HubSpot-Request-Timestamp, with the characters HubSpot lists
// (%3A, %2F, %3F, %40, %21, %24, %27, %28, %29, %2A, %2C, %3B) decoded in the URI;
// the URI is options.webhook_url, the public URL HubSpot posts to. Timestamps more than
// five minutes from now are stale. [VerifySignatureV3] serves callers holding the
// request's own method and URL.
package hubspot
