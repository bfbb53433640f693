//! The HTTP edge: the server loop, routing, the envelope, errors, CORS and body limits.
//! Handlers receive a parsed `Ctx` and answer a `Reply` or an `ApiError`; only this module
//! turns those into HTTP.

pub mod envelope;
pub mod error;
pub mod request;
pub mod router;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::handlers;
use crate::metrics::{RequestLabels, method_label};
use crate::state::AppState;
use envelope::{EnvelopeContext, Reply};
use error::ApiError;
use request::{Ctx, MAX_BODY_BYTES};
use router::Route;

/// The longest request target answered with more than a 414.
const MAX_URI_BYTES: usize = 8 * 1024;

const ALLOW_HEADERS: &str = "Content-Type, Depth, User-Agent, X-HTTP-Method-Override, \
    X-File-Size, X-Requested-With, If-Modified-Since, X-File-Name, Cache-Control, \
    X-Auth-Token, X-Kazoo-Cluster-ID, If-Match";
const EXPOSE_HEADERS: &str = "Content-Type, X-Auth-Token, X-Request-ID, X-Kazoo-Cluster-ID, \
    Location, Etag";

/// Serves `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.settings.header_read_timeout)
        .max_buf_size(256 * 1024);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                };
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req, peer).await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 30 s");
    }
    Ok(())
}

/// Answers one request: never fails, every error becomes an envelope.
pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = request::request_id(req.headers());
    let route = Route::of_path(req.uri().path());
    let route_name = route.as_ref().map(Route::name).unwrap_or("unknown");
    let method = method_label(req.method());
    let allowed = match &route {
        Ok(route) => allow_list(route.methods()),
        Err(_) => "OPTIONS".to_string(),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        http.method = %req.method(),
        http.route = route_name,
    );
    async move {
        let (ctx, result) = answer(&state, req, peer, request_id, route).await;
        let envelope = EnvelopeContext {
            request_id: &ctx.request_id,
            node: &state.node,
            auth_token: ctx.token.as_deref().unwrap_or(""),
            now_unix: state.clock.now(),
        };
        let mut response = match result {
            Ok(reply) => envelope.success(reply),
            Err(error) => {
                if let ApiError::Datastore(cause) = &error {
                    tracing::error!(%cause, "datastore fault");
                }
                envelope.error(&error)
            }
        };
        add_common_headers(&mut response, &ctx, &allowed);
        let status = response.status().as_u16();
        let took = started.elapsed();
        let labels = RequestLabels {
            route: route_name,
            method,
            status,
        };
        state.metrics.request_answered(labels, took);
        tracing::info!(
            http.status_code = status,
            duration_ms = took.as_millis() as u64,
            "request completed"
        );
        response
    }
    .instrument(span)
    .await
}

async fn answer(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    request_id: String,
    route: Result<Route, ApiError>,
) -> (Ctx, Result<Reply, ApiError>) {
    let (parts, body) = req.into_parts();
    let query = request::parse_query(parts.uri.query());
    let mut ctx = Ctx {
        request_id,
        method: parts.method.clone(),
        token: request::find_token(&parts.headers, &query, None),
        client_ip: request::client_ip(peer, &parts.headers, &state.settings.trusted_proxies),
        headers: request::header_list(&parts.headers),
        query,
        body: None,
    };
    if parts.uri.to_string().len() > MAX_URI_BYTES {
        return (ctx, Err(ApiError::UriTooLong));
    }
    let route = match route {
        Ok(route) => route,
        Err(error) => return (ctx, Err(error)),
    };
    if parts.method == Method::OPTIONS {
        return (ctx, Ok(Reply::ok(serde_json::json!({}))));
    }

    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return (ctx, Err(ApiError::PayloadTooLarge));
    }
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return (ctx, Err(ApiError::PayloadTooLarge)),
    };
    match request::parse_body(&bytes) {
        Ok(body) => ctx.body = body,
        Err(error) => return (ctx, Err(error)),
    }
    ctx.method =
        request::effective_method(&parts.method, &parts.headers, &ctx.query, ctx.body.as_ref());
    ctx.token = request::find_token(&parts.headers, &ctx.query, ctx.body.as_ref());
    if !route.methods().contains(&ctx.method) {
        return (ctx, Err(ApiError::MethodNotAllowed));
    }

    let result = handlers::dispatch(state, &mut ctx, &route).await;
    (ctx, result)
}

fn allow_list(methods: &[Method]) -> String {
    let mut names = vec!["OPTIONS"];
    names.extend(methods.iter().map(Method::as_str));
    names.join(", ")
}

fn add_common_headers(response: &mut Response<Full<Bytes>>, ctx: &Ctx, allowed: &str) {
    let allowed = HeaderValue::from_str(allowed).unwrap_or(HeaderValue::from_static("OPTIONS"));
    let not_allowed = response.status() == StatusCode::METHOD_NOT_ALLOWED;
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-request-id", id);
    }
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-allow-methods", allowed.clone());
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.insert("access-control-max-age", HeaderValue::from_static("86400"));
    if not_allowed {
        headers.insert("allow", allowed);
    }
}
