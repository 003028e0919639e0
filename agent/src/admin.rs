//! `dashledger-agent admin`: the owner's page, served by the agent itself with its keystore
//! unlocked (like a router's admin page), so that no web page ever asks an owner for a secret
//! key. It lists the open requests for the owner's evidence contracts (the cloud's signed owner
//! API, as `requests` does) and approves, declines, claims and withdraws with the same code as
//! the command line (`owner::OwnerChain`).
//!
//! Safety: it listens on loopback by default (`--listen ADDR:PORT` for the LAN); every request
//! must carry the random token printed at start (the URL to open); the `Host` header must be an
//! IP literal or `localhost` (a DNS-rebinding page cannot reach it by name) and a form's `Origin`,
//! when sent, must be this page's own; answers are never cached, never framed, and send no
//! referrer. The page is plain HTML forms: no script, nothing from other sites.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dashledger_agent::cloud::{CloudClient, Deployment};
use dashledger_agent::config::Config;
use dashledger_agent::outbox::Outbox;
use dashledger_agent::{AgentError, owner};
use dashledger_protocol::keys::Secrets;

struct Admin {
    config: Config,
    secrets: Secrets,
    token: String,
}

type Shared = Arc<Admin>;

/// A fresh 128-bit token from the kernel's random source, as hex.
fn new_token() -> Result<String, AgentError> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| AgentError::system("cannot read /dev/urandom for the admin token", e))?;
    Ok(hex::encode(b))
}

/// Serves the owner's page on `listen` until the process is stopped; prints its URL on stdout.
pub(crate) async fn serve(
    config: Config,
    secrets: Secrets,
    listen: SocketAddr,
) -> Result<(), AgentError> {
    let token = new_token()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| AgentError::system(format!("cannot listen on {listen}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| AgentError::system("cannot read the listening address", e))?;
    println!("http://{bound}/?token={token}");
    tracing::info!(%bound, "owner page: open the URL printed on stdout (it carries the access token)");
    let app = Router::new()
        .route("/", get(index))
        .route("/act", post(act))
        .with_state(Arc::new(Admin {
            config,
            secrets,
            token,
        }));
    axum::serve(listener, app)
        .await
        .map_err(|e| AgentError::system("owner page server", e))
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Refuses a request without the token, from a name-based Host, or from another page's form.
fn guard(st: &Admin, headers: &HeaderMap, token: Option<&str>) -> Result<(), Box<Response>> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let literal = name == "localhost"
        || name
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    if !literal {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "open the owner page by its IP address or localhost (the URL the agent printed)",
        )));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && origin != format!("http://{host}")
    {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "this form was not sent from the owner page",
        )));
    }
    if token != Some(st.token.as_str()) {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "missing or wrong access token: open the URL the agent printed when it started",
        )));
    }
    Ok(())
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · dashledger agent</title><style>{CSS}</style></head><body><header><p class=\"brand\">dashledger agent · owner page</p></header>\
<main id=\"main\"><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
    );
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    r
}

fn refuse(status: StatusCode, why: &str) -> Response {
    page(
        status,
        "Refused",
        &format!("<p class=\"error\" role=\"alert\">{}</p>", esc(why)),
    )
}

const CSS: &str = "body{margin:0;font-family:system-ui,'DejaVu Sans',sans-serif;color:#1c2430;background:#f5f6f8;line-height:1.45}\
header{background:#14213d;color:#fff;padding:10px 20px}.brand{margin:0;font-weight:700}main{max-width:960px;margin:0 auto;padding:8px 20px 40px}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d6dbe3;padding:6px 8px;text-align:left;vertical-align:top}\
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.85em;word-break:break-all}form{display:inline-block;margin:2px}\
button{font:inherit;padding:6px 12px;border-radius:6px;border:1px solid #1f5fbf;background:#1f5fbf;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1c2430;border-color:#5b6676}input{font:inherit;padding:5px 7px;border:1px solid #5b6676;border-radius:6px}\
label{display:inline-grid;gap:2px;margin-right:8px}:focus-visible{outline:3px solid #1a4f9c;outline-offset:2px}.error{color:#b3261e;font-weight:600}\
.ok{color:#1d7a3e;font-weight:600}.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}.panel{background:#fff;border:1px solid #d6dbe3;border-radius:8px;padding:12px 14px;margin:12px 0}";

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A one-button form posting `action` for `reqc` (with the token).
fn form(token: &str, action: &str, reqc: &str, label: &str, class: &str, extra: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/act\"><input type=\"hidden\" name=\"token\" value=\"{t}\"><input type=\"hidden\" name=\"action\" value=\"{a}\">\
<input type=\"hidden\" name=\"request\" value=\"{r}\">{extra}<button type=\"submit\" class=\"{class}\" data-action=\"{a}\" data-reqc=\"{r}\">{l}</button></form>",
        t = esc(token),
        a = esc(action),
        r = esc(reqc),
        l = esc(label),
    )
}

/// The open requests for every used owner key (the cloud's signed owner API).
async fn open_requests(
    st: &Admin,
) -> Result<Vec<dashledger_api::requests::RequestView>, AgentError> {
    let used = {
        let outbox = Outbox::open(&st.config.outbox_path())?;
        owner::used_owner_keys(&outbox)?
    };
    let deployment = Deployment::load(&st.config.chain.deployments)?;
    let cloud = CloudClient::new(&st.config.cloud)?;
    let mut all = Vec::new();
    for index in 0..used {
        let key = st.secrets.owner_seed().owner_key(index)?;
        all.extend(
            cloud
                .owner_requests(key.signer(), deployment.chain_id)
                .await?,
        );
    }
    Ok(all)
}

async fn index(
    State(st): State<Shared>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = guard(&st, &headers, q.token.as_deref()) {
        return *r;
    }
    let t = &st.token;
    let mut body = String::from(
        "<p>Requests for your footage. The agent answers with the keys in its keystore; nothing secret is entered here. \
Approving sends a re-encryption key fragment for the requester's key and the minimum deposit (funded from the owner wallet).</p>",
    );
    match open_requests(&st).await {
        Ok(list) if list.is_empty() => {
            body.push_str("<p data-testid=\"no-requests\">No open requests.</p>")
        }
        Ok(list) => {
            body.push_str("<table><caption class=\"visually-hidden\">Open requests</caption><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">Evidence</th><th scope=\"col\">Requester</th><th scope=\"col\">Answer</th></tr></thead><tbody>");
            for r in &list {
                let _ = write!(
                    body,
                    "<tr data-reqc=\"{reqc}\"><td><code>{reqc}</code></td><td><code>{ec}</code></td><td><code>{req}</code></td><td>{a}{d}</td></tr>",
                    reqc = esc(&r.reqc),
                    ec = esc(&r.ec_address),
                    req = esc(&r.requester),
                    a = form(t, "approve", &r.reqc, "Approve", "", ""),
                    d = form(t, "decline", &r.reqc, "Decline", "secondary", ""),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => {
            let _ = write!(
                body,
                "<p class=\"error\" role=\"alert\">Cannot list the requests: {}</p>",
                esc(&e.to_string())
            );
        }
    }
    let _ = write!(
        body,
        "<div class=\"panel\"><h2>Claim and withdraw</h2><p>Claim a request the requester neither confirmed nor disputed in time, then withdraw what your owner keys are owed (relayed: each accident's share to its own owner key; direct: to the owner wallet).</p>\
<form method=\"post\" action=\"/act\"><input type=\"hidden\" name=\"token\" value=\"{t}\"><input type=\"hidden\" name=\"action\" value=\"claim\">\
<label>Request (REQC address) <input name=\"request\" required pattern=\"0x[0-9a-fA-F]{{40}}\" autocomplete=\"off\" spellcheck=\"false\"></label><button type=\"submit\">Claim</button></form>\
{w}</div>",
        t = esc(t),
        w = form(
            t,
            "withdraw",
            "",
            "Withdraw everything owed",
            "secondary",
            ""
        ),
    );
    page(StatusCode::OK, "Requests for your footage", &body)
}

/// `application/x-www-form-urlencoded` fields (the values here are hex, digits and words).
fn fields(body: &str) -> impl Iterator<Item = (String, String)> + '_ {
    body.split('&').filter_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let dec = |s: &str| {
            let s = s.replace('+', " ");
            let mut out = Vec::with_capacity(s.len());
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
                out.push(b[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        Some((dec(k), dec(v)))
    })
}

async fn act(State(st): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let (mut token, mut action, mut request) = (None, String::new(), String::new());
    for (k, v) in fields(&body) {
        match k.as_str() {
            "token" => token = Some(v),
            "action" => action = v,
            "request" => request = v.trim().to_owned(),
            _ => {}
        }
    }
    if let Err(r) = guard(&st, &headers, token.as_deref()) {
        return *r;
    }
    let back = format!(
        "<p><a href=\"/?token={}\">Back to the requests</a></p>",
        esc(&st.token)
    );
    match run(&st, &action, &request).await {
        Ok((what, json)) => page(
            StatusCode::OK,
            &what,
            &format!(
                "<p class=\"ok\" role=\"status\" data-testid=\"result\">{}</p><pre><code>{}</code></pre>{back}",
                esc(&what),
                esc(&json)
            ),
        ),
        Err(e) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not done",
            &format!(
                "<p class=\"error\" role=\"alert\" data-testid=\"result\">{}</p>{back}",
                esc(&e.to_string())
            ),
        ),
    }
}

/// Runs one owner action with the command line's code; returns a headline and the JSON result.
async fn run(st: &Admin, action: &str, request: &str) -> Result<(String, String), AgentError> {
    let (used, accidents) = {
        let outbox = Outbox::open(&st.config.outbox_path())?;
        (
            owner::used_owner_keys(&outbox)?,
            owner::accidents_with_ec(&outbox)?,
        )
    };
    let chain = owner::OwnerChain::connect(&st.config, &st.secrets, used).await?;
    let pretty = |v: &dyn erased::Json| v.json();
    match action {
        "approve" => {
            let reqc = owner::parse_address(request, "request")?;
            let out = chain.approve(&st.secrets, &accidents, reqc, None).await?;
            Ok((
                format!("Approved {} (transaction {})", out.request, out.tx),
                pretty(&out),
            ))
        }
        "decline" => {
            let out = chain
                .decline(owner::parse_address(request, "request")?)
                .await?;
            Ok((
                format!("Declined {} (transaction {})", out.request, out.tx),
                pretty(&out),
            ))
        }
        "claim" => {
            let out = chain
                .claim(owner::parse_address(request, "request")?)
                .await?;
            Ok((
                format!(
                    "Claimed {} (transaction {}); withdraw to collect it",
                    out.request, out.tx
                ),
                pretty(&out),
            ))
        }
        "withdraw" => {
            let out = chain.withdraw(None, None).await?;
            let to = out
                .to
                .clone()
                .unwrap_or_else(|| "each accident's own owner key".into());
            Ok((
                format!("Withdrew {} wei to {to}", out.total_wei),
                pretty(&out),
            ))
        }
        other => Err(AgentError::Config(format!("unknown action `{other}`"))),
    }
}

mod erased {
    /// Pretty JSON of any serialisable result.
    pub(super) trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Admin {
        Admin {
            config: Config::default(),
            secrets: Secrets::generate(),
            token: "t0ken".into(),
        }
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn guard_wants_the_token_an_ip_host_and_our_origin() {
        let st = admin();
        assert!(guard(&st, &headers("127.0.0.1:8765", None), Some("t0ken")).is_ok());
        assert!(guard(&st, &headers("localhost:8765", None), Some("t0ken")).is_ok());
        assert!(guard(&st, &headers("[::1]:8765", None), Some("t0ken")).is_ok());
        assert!(
            guard(
                &st,
                &headers("192.168.1.20:8765", Some("http://192.168.1.20:8765")),
                Some("t0ken")
            )
            .is_ok()
        );
        // No or a wrong token, a host name (DNS rebinding), another site's form.
        assert!(guard(&st, &headers("127.0.0.1:8765", None), None).is_err());
        assert!(guard(&st, &headers("127.0.0.1:8765", None), Some("guess")).is_err());
        assert!(guard(&st, &headers("evil.example:8765", None), Some("t0ken")).is_err());
        assert!(
            guard(
                &st,
                &headers("127.0.0.1:8765", Some("http://evil.example")),
                Some("t0ken")
            )
            .is_err()
        );
        assert!(guard(&st, &headers("127.0.0.1:8765", Some("null")), Some("t0ken")).is_err());
    }

    #[test]
    fn forms_are_decoded_and_text_is_escaped() {
        let got: Vec<_> = fields("token=ab%20c&action=approve&request=0xAb+&x=%zz%4").collect();
        assert_eq!(
            got,
            vec![
                ("token".into(), "ab c".into()),
                ("action".into(), "approve".into()),
                ("request".into(), "0xAb ".into()),
                ("x".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(new_token().unwrap().len(), 32);
        assert_ne!(new_token().unwrap(), new_token().unwrap());
    }
}
