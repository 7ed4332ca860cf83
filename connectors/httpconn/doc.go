// Package httpconn is a generic JSON REST connector (kind "http") configured
// entirely by data: a base URL, an [Auth] document and an [Options] document, so the
// hub can reach an API with no Go code.
//
// Authentication: none, bearer token, HTTP basic, API key (header or query
// parameter), and OAuth2 client credentials or refresh token through
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
// the shape incoming webhooks (Discord, Microsoft Teams, Slack) expect.
//
// Pagination ([Pagination]) for List: the RFC 8288 Link header (rel="next"), a
// cursor field in the body sent back as a query parameter, or page numbers.
//
// Example configurations live in testdata: hubspot.json (HubSpot CRM v3 contacts:
// bearer private-app token, create/update, cursor paging via paging.next.after),
// discord.json (a Discord webhook: ?wait=true returns the message id) and teams.json
// (a Microsoft Teams incoming webhook MessageCard). Webhook URLs carry their secret in
// the path; Info reports only the origin and errors never contain the URL.
//
// Errors: 2xx is success; other statuses become *connectors.Error classified by
// connectors.ClassForStatus with Retry-After honoured and the vendor code and message
// taken from common JSON error shapes ([ErrorFields]), redacted of every configured
// secret.
package httpconn
