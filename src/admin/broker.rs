//! Broker-level paths: health and the live actor tree.

use actix_web::{web, HttpResponse};
use geminga_actors::BrokerContext;

/// Registers the broker-level routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/brokers/health", web::get().to(health))
        .route("/admin/v2/broker/actors", web::get().to(actors));
}

/// Pulsar's health check answers the plain text `ok`.
async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The supervision tree: every live actor with its parent, state and restart count.
async fn actors(context: web::Data<BrokerContext>) -> HttpResponse {
    HttpResponse::Ok().json(context.tracker().snapshot())
}
