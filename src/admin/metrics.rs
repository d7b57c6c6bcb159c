//! `GET /metrics`: Prometheus text, rendered from shared counters at scrape time.

use actix_web::{web, HttpResponse};
use prometheus_client::registry::Registry;

use crate::metrics;

/// Registers the metrics route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

async fn scrape(registry: web::Data<Registry>) -> HttpResponse {
    match metrics::render(&registry) {
        Ok(text) => HttpResponse::Ok()
            .content_type(metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => HttpResponse::InternalServerError()
            .json(serde_json::json!({ "reason": format!("encoding metrics failed: {e}") })),
    }
}
