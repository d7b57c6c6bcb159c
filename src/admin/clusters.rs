//! `/admin/v2/clusters`: the clusters known to the metadata store.

use actix_web::{web, HttpResponse};
use geminga_actors::BrokerContext;

use super::errors::{blocking, ApiError};

/// Registers the cluster routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/clusters", web::get().to(list))
        .route("/admin/v2/clusters/{cluster}", web::get().to(get));
}

async fn list(context: web::Data<BrokerContext>) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let clusters = blocking(move || Ok(metadata.clusters()?)).await?;
    Ok(HttpResponse::Ok().json(clusters))
}

async fn get(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let cluster = path.into_inner();
    let data = blocking(move || Ok(metadata.cluster(&cluster)?)).await?;
    Ok(HttpResponse::Ok().json(data))
}
