// Package salesforce is the Salesforce REST API connector (kind "salesforce").
//
// Configuration by data ([connectors.Config]):
//
//	base_url  the org's My Domain or instance URL, e.g. https://acme.my.salesforce.com
//	auth      {"flow": "client_credentials", "client_id": "...", "client_secret": "..."}
//	          {"flow": "refresh_token", "client_id": "...", "client_secret": "...", "refresh_token": "..."}
//	          {"flow": "refresh_token", "client_id": "...", "client_secret": "...",
//	           "redirect_url": "...", "scopes": ["api", "refresh_token"]} without a refresh
//	          token: authorized by the hub's AuthCodeURL and Exchange (PKCE); "auth_url"
//	          overrides {base_url}/services/oauth2/authorize
//	          {"flow": "static", "access_token": "..."}
//	          token_url defaults to {base_url}/services/oauth2/token; access_token with
//	          expires_at (RFC 3339) seeds the cache with a token obtained earlier
//	options   {"api_version": "62.0", "sobject": "Case", "default_operation": "create",
//	           "external_id_field": "External_Id__c", "all_or_none": true,
//	           "field_map": {"Subject": "title", "Description": "description"}}
//
// OAuth 2.0 (Salesforce Help "OAuth 2.0 Client Credentials Flow for Server-to-Server
// Integration" and "OAuth 2.0 Refresh Token Flow") runs through golang.org/x/oauth2.
// With the OAuth flows, base_url may be a login host (https://login.salesforce.com,
// https://test.salesforce.com or the org's My Domain): the token response's
// instance_url names the host every API call then goes to, as Salesforce documents.
// The token is cached; when it is missing or expired, one caller fetches and the
// others wait for that fetch (50 concurrent deliveries cause one token request).
// Salesforce access tokens carry no expiry, so a 401 INVALID_SESSION_ID invalidates
// the token, and the call is retried once with a fresh one.
//
// Operations (Salesforce REST API Developer Guide, "sObject Basic Information",
// "sObject Rows", "sObject Rows by External ID", "Query", "Composite"):
//
//	create (default)  POST   /services/data/vXX.X/sobjects/{sobject}/
//	get               GET    .../sobjects/{sobject}/{id}            (params.id)
//	update            PATCH  .../sobjects/{sobject}/{id}
//	upsert            PATCH  .../sobjects/{sobject}/{field}/{value} (external id)
//	delete            DELETE .../sobjects/{sobject}/{id}
//	query             GET    .../query?q=SOQL, following nextRecordsUrl to the end
//	composite         POST   .../composite with allOrNone
//
// The sObject type comes from params.sobject or options.sobject. Field values are
// the payload, or, with options.field_map, sObject field → payload dotted path.
// List pages a SOQL query one batch at a time; the cursor is nextRecordsUrl.
// Response.RemoteID is the record id.
//
// Errors (REST API Developer Guide "Status Codes and Error Responses"): Salesforce
// answers with an array of {"errorCode", "message", "fields"}. REQUEST_LIMIT_EXCEEDED
// is rate-limited; UNABLE_TO_LOCK_ROW and SERVER_UNAVAILABLE are transient;
// INVALID_SESSION_ID triggers the refresh described above and is an auth failure if
// it persists; other codes follow the status (401/403 auth, 5xx transient, other 4xx
// permanent). A composite request whose subrequests failed is an error classified
// from the first real failure.
//
// Limits (REST API Developer Guide "Limit Info Header"): every response carries
// Sforce-Limit-Info ("api-usage=18/5000"); [ParseLimitInfo] reads it and
// [Connector.LimitInfo] returns the latest seen, for adaptive rate limiting. Check
// calls the Limits resource.
package salesforce
