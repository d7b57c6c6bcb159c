//! `/admin/v2/tenants`: list, create, get, update and delete tenants.

use actix_web::{web, HttpResponse};
use geminga_actors::{metadata::TenantInfo, security::AccessCheck, BrokerContext};

use super::errors::{blocking, no_content, ApiError};

/// Registers the tenant routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/tenants", web::get().to(list))
        .route("/admin/v2/tenants/{tenant}", web::get().to(get))
        .route("/admin/v2/tenants/{tenant}", web::put().to(create))
        .route("/admin/v2/tenants/{tenant}", web::post().to(update))
        .route("/admin/v2/tenants/{tenant}", web::delete().to(delete));
}

/// A TenantInfo body; an empty body means "no roles, no clusters".
fn tenant_info(body: &web::Bytes) -> Result<TenantInfo, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TenantInfo::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid TenantInfo: {e}")))
}

/// Every tenant for superusers (and with authorization off); otherwise only the tenants the
/// caller administers, so nobody learns the names of other tenants.
async fn list(
    context: web::Data<BrokerContext>,
    access: Option<web::ReqData<AccessCheck>>,
) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let access = access.map(web::ReqData::into_inner);
    let tenants = blocking(move || {
        let all = metadata.tenants()?;
        match access {
            Some(access) if !access.is_superuser() => {
                let mut visible = Vec::new();
                for tenant in all {
                    if access.is_tenant_admin(&tenant)? {
                        visible.push(tenant);
                    }
                }
                Ok(visible)
            }
            _ => Ok(all),
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(tenants))
}

async fn get(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let tenant = path.into_inner();
    let info = blocking(move || Ok(metadata.tenant(&tenant)?)).await?;
    Ok(HttpResponse::Ok().json(info))
}

async fn create(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let info = tenant_info(&body)?;
    let metadata = context.metadata().clone();
    let tenant = path.into_inner();
    blocking(move || Ok(metadata.create_tenant(&tenant, &info)?)).await?;
    Ok(no_content())
}

async fn update(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let info = tenant_info(&body)?;
    let metadata = context.metadata().clone();
    let tenant = path.into_inner();
    blocking(move || Ok(metadata.update_tenant(&tenant, &info)?)).await?;
    Ok(no_content())
}

async fn delete(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let tenant = path.into_inner();
    blocking(move || Ok(metadata.delete_tenant(&tenant)?)).await?;
    Ok(no_content())
}
