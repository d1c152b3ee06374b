// A real OpenID provider for the tests: panva's oidc-provider (OpenID Certified)
// on a free loopback port, standing in for V-ZAM.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG.json: {
//   "client": {client_id, client_secret, redirect_uris, post_logout_redirect_uris},
//   "jwk": a private RSA JWK (with "kid"): the provider signs ID tokens with it,
//   "users": {"<login>": {"claims": {...}, "amr": ["pwd", "mfa"], "acr": "..."}},
//   "port": the loopback port to listen on (optional; a free one by default),
//   "clockOffsetSeconds": its clock runs this much ahead (negative: behind),
//   "idTokenTtl": seconds an ID token is valid (optional; 300 by default)
// }
// Prints one JSON line {"issuer": "http://127.0.0.1:PORT"} once it listens, and
// serves until it is killed. Started again on the same port with another
// "jwk", it is the same issuer signing with another key. Its sign-in page asks only for a login (one of
// "users"); the consent is granted at once.
import { readFileSync } from "node:fs";
import http from "node:http";
import { parse } from "node:querystring";

import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const users = config.users;

// A provider whose clock is wrong: every time it stamps (iat, exp, auth_time)
// and checks comes from Date.now().
if (config.clockOffsetSeconds) {
  const realNow = Date.now;
  Date.now = () => realNow() + config.clockOffsetSeconds * 1000;
}

// The claims each scope releases: the standard ones plus whatever the users
// carry (the partner's NIP under its configured name) on "openid".
const extra = new Set();
for (const user of Object.values(users)) {
  for (const name of Object.keys(user.claims)) extra.add(name);
}
for (const name of ["email", "email_verified", "name", "given_name", "family_name"]) {
  extra.delete(name);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(config.port || 0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      ...config.client,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [config.jwk] },
  cookies: { keys: ["test-only-cookie-key"] },
  // PKCE for every client, not only public ones: a portal that does not send
  // a code challenge is refused, as a strict provider would.
  pkce: { required: () => true },
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ["sub", "acr", "amr", "auth_time", ...extra],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name"],
  },
  // Scope claims in the ID token too (the portal reads them from there).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // One click, no external stylesheet.
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><title>V-ZAM</title>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out of V-ZAM</button>`;
      },
    },
  },
  findAccount: async (_ctx, id) =>
    users[id] && {
      accountId: id,
      claims: async () => ({ sub: id, ...users[id].claims }),
    },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { IdToken: config.idTokenTtl || 300, AccessToken: 300, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, error) {
  res.writeHead(error ? 400 : 200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><title>V-ZAM</title>
    <h1>V-ZAM sign-in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ""}
    <form method="post" action="/interaction/${escape(uid)}">
      <label>V-ZAM login <input name="login" autocomplete="off"></label>
      <button type="submit">Sign in to V-ZAM</button>
    </form></html>`);
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return parse(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session, grantId, uid } = details;
  if (prompt.name === "login") {
    if (req.method !== "POST") return loginPage(res, uid);
    const { login } = await readForm(req);
    const user = users[login];
    if (!user) return loginPage(res, uid, "Unknown login");
    const result = { login: { accountId: login, amr: user.amr || ["pwd"] } };
    if (user.acr) result.login.acr = user.acr;
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  // consent: grant what the portal asked for
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const saved = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId: saved } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on("request", (req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((err) => {
      console.error(err);
      res.writeHead(500);
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});

process.stdout.write(JSON.stringify({ issuer }) + "\n");
process.on("SIGTERM", () => {
  server.closeAllConnections(); // browsers' kept-alive ones: the port is free at once
  server.close(() => process.exit(0));
});
