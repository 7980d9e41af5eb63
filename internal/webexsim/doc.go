// Package webexsim owns a faithful stand-in for the parts of the Webex API that
// the device sync job talks to, served over real HTTP:
//
//   - GET /v1/telephony/config/devices/{deviceId} (Get Webex Calling Device Details),
//     in exactly the vendor page's JSON shape, quirks included (upgradeChannelEnabled
//     sometimes a string, activationState and proxy often absent, ip empty or missing);
//   - GET /v1/devices, the paged listing used to discover calling device IDs, with
//     RFC 5988 Link headers and, optionally, the "next link drops the filters" quirk;
//   - bearer-token auth with a rotatable token set, a per-token rate limit whose 429s
//     carry every Retry-After form seen in the wild, and injected faults (423, 5xx,
//     403, 410, stalls, truncated, malformed, oversize or mislabelled bodies).
//
// The rate limit is a token bucket per bearer token, of any shape: its rate
// (Config.RateLimit) and its size (Config.Burst: 1 is a strict server that
// refuses any two requests closer than 1/rate, 100 forgives long bursts). Webex
// publishes neither, and changes its limits without notice, so the limit can
// also change while the simulator serves: on a schedule counted from the first
// request (Config.RateSchedule; webexsim --rate-schedule 30s=10,5m=25/20), or at
// once (Sim.SetRateLimit, POST /_sim/rate-limit {"rate": 10, "burst": 3}; GET
// shows the limit in force and the steps to come). A refused token stays paused
// until its next token, so that requests sent during a pause earn more 429s, as
// Webex's do.
//
// It also owns the ground truth: a deterministic device population generated from a
// seed, the churn applied to it, and counters of what was served, so that end-to-end
// tests can compare what a client stored with what the "vendor" actually said.
//
// Memory matters because benchmarks run with up to a million devices: a device that
// was never edited is stored as a 20-byte record and re-derived from the seed when
// served; only devices edited through [Sim.Update] carry a full [Device].
//
// Test-only endpoints live under /_sim/ (never under /v1, so they cannot collide
// with the API): GET /_sim/stats, POST /_sim/churn, POST /_sim/reset-stats, GET and
// POST /_sim/rate-limit. They need no token and are not counted in [Stats].
package webexsim
