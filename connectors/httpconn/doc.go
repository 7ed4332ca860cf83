// Package httpconn is a generic JSON REST connector (kind "http") configured
// entirely by data: a base URL, an [Auth] document and an [Options] document, so the
// hub can reach an API with no Go code.
//
// Authentication: none, bearer token, HTTP basic, API key (header, query parameter
// or body field), and OAuth2 client credentials or refresh token through
// golang.org/x/oauth2. OAuth2 tokens are cached, fetched by one caller at a time and
// refreshed once more when the API answers 401.
//
// Operations: each [Operation] is a method, a path template whose "{name}" segments
// come from Request.Params or the payload, query values and an optional JSON body
// template whose "{{dotted.path}}" placeholders are filled from the payload (without
// a template the payload is sent as is).
//
// Default operation: when the hub delivers an event without naming an operation,
// the connector performs Options.DefaultOperation, "deliver" unless configured,
// which without further configuration POSTs the payload to the base URL itself,
// the shape generic incoming webhooks expect.
//
// Pagination ([Pagination]) for List: the RFC 8288 Link header (rel="next"), a
// cursor field in the body sent back as a query parameter, or page numbers.
//
// Batching ([Batch]): an operation may split the array its body carries (a top-level
// field, or the body itself) into requests of at most max_items items, refusing a
// delivery any of whose requests would exceed max_bytes before sending anything. The
// requests go in order; when one fails, the error says how many were accepted before
// it, and a retry sends them again, so the remote should deduplicate (Mixpanel by
// $insert_id, Amplitude by insert_id). A split delivery's idempotency key gets the
// request number appended ("key/2").
//
// Shipped configurations live in testdata, each tested against a fake of its vendor:
// ga4.json (Google Analytics 4 Measurement Protocol: api_secret as a query API key,
// measurement_id in the query, 25 events and 130 kB per request; the endpoint answers
// 2xx even for invalid events, so validate with its /debug/mp/collect endpoint while
// setting up), mixpanel.json (Mixpanel /import with a service account, strict=1, 2000
// events and 2 MB per request — the documented limit has been 2 MB and is now 10 MB;
// a 400 with failed_records is permanent) and amplitude.json (Amplitude HTTP V2
// /2/httpapi with the API key in the body's api_key field, 2000 events and 1 MB per
// request; 429 when a device exceeds its events per second). HubSpot, Microsoft Teams
// and Discord have native connectors (connectors/hubspot, connectors/teams,
// connectors/discord).
//
// Errors: 2xx is success; other statuses become *connectors.Error classified by
// connectors.ClassForStatus with Retry-After honoured and the vendor code and message
// taken from common JSON error shapes ([ErrorFields]), redacted of every configured
// secret.
package httpconn
