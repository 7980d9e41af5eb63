// Package fetch is the Webex API client of the sync job. It owns everything
// that speaks HTTP to Webex: building requests, authentication, pacing with a
// shared token bucket, the client-wide pause that a 429 or 423 imposes,
// retries with back-off, and decoding a response into a typed Device or a
// typed *Error. It knows nothing of SQL.
package fetch
