//! `GET /`: the built-in status page (static HTML and JS compiled into the binary) that polls
//! `/admin/v2/broker/actors` and `/admin/v2/broker-stats/topics`.

use actix_web::{web, HttpResponse};

/// The page, embedded at build time.
pub const STATUS_PAGE: &str = include_str!("status.html");

/// Registers the status page route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/status", web::get().to(page));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(STATUS_PAGE)
}
