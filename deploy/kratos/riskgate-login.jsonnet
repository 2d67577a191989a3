// The body Ory Kratos sends to riskgate's after-login hook (api/kratoshook):
// who logged in, from where, on what. Kratos renders it with the login's
// context and POSTs the result; see README.md beside this file.
//
// Only what riskgate needs leaves Kratos: not the other cookies (the CSRF
// and session cookies are in ctx.request_cookies too), not the traits
// beyond the identifier.
function(ctx)
  local session = if std.objectHas(ctx, 'session') && ctx.session != null then ctx.session else {};
  local devices = if std.objectHas(session, 'devices') && session.devices != null then session.devices else [];
  // The device Kratos recorded for this login: the last one.
  local device = if std.length(devices) > 0 then devices[std.length(devices) - 1] else {};
  local str(o, k) = if std.objectHas(o, k) && o[k] != null then o[k] else '';
  local traits = if ctx.identity.traits != null then ctx.identity.traits else {};
  local cookies = if std.objectHas(ctx, 'request_cookies') && ctx.request_cookies != null then ctx.request_cookies else {};
  local payload = if std.objectHas(ctx.flow, 'transient_payload') && ctx.flow.transient_payload != null then ctx.flow.transient_payload else {};
  {
    flow_id: ctx.flow.id,
    // browser or api (native apps)
    flow_type: ctx.flow.type,
    // When the password was verified: with flow_id, the attempt's
    // idempotency key (Kratos retries a failed hook call with the same).
    authenticated_at: str(session, 'authenticated_at'),
    identity_id: ctx.identity.id,
    // The identifier the user typed. Adjust to your identity schema.
    username: if std.objectHas(traits, 'email') then traits.email
              else if std.objectHas(traits, 'username') then traits.username
              else '',
    // Kratos takes it from True-Client-IP, CF-Connecting-IP, X-Real-IP or
    // X-Forwarded-For, else the connection (with its port).
    ip: str(device, 'ip_address'),
    user_agent: str(device, 'user_agent'),
    // "City, CC" from Cloudflare's CF-IPCity and CF-IPCountry headers.
    location: str(device, 'location'),
    // A long-lived device cookie set by your login UI (browsers), or
    // transient_payload.device_id in the login request (native apps and
    // API flows, which refuse cookies).
    device_id: if str(cookies, 'device_id') != '' then cookies.device_id else str(payload, 'device_id'),
    aal: str(session, 'authenticator_assurance_level'),
  }
