//! `/admin/v2/broker/faults`: fault injection over HTTP, refused (403) unless the broker runs
//! with `faultInjectionEnabled=true`.
//!
//! - `POST` `{"kind": "topic", "name": "persistent://public/default/t", "action": "panic"}`
//!   (`action`: `panic`, `stop`, `stall` with `durationMs`, `drop_mailbox`), or
//!   `{"storage": "fsync", "durationMs": 2000}` (`storage`: `write` or `fsync`).
//! - `GET` lists the faults in effect; `DELETE` ends them all.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use geminga_actors::{
    supervision::{ActorFault, ActorKind, StorageFault},
    BrokerContext,
};
use serde::Deserialize;
use serde_json::json;

/// Whether the fault-injection paths are open (config `faultInjectionEnabled`).
#[derive(Clone, Copy, Debug)]
pub struct FaultsEnabled(pub bool);

/// Registers the fault-injection routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/broker/faults", web::get().to(list))
        .route("/admin/v2/broker/faults", web::post().to(inject))
        .route("/admin/v2/broker/faults", web::delete().to(clear));
}

/// The body of a `POST`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    /// Actor kind (`topic`, `subscription`, `dispatcher`, `connection`, `producer`,
    /// `consumer`, `storage_writer`, `registry`).
    kind: Option<String>,
    /// Actor name, as listed at `/admin/v2/broker/actors`.
    name: Option<String>,
    /// `panic`, `stop`, `stall` or `drop_mailbox`.
    action: Option<String>,
    /// `write` or `fsync`.
    storage: Option<String>,
    /// How long a stall or a storage fault lasts.
    duration_ms: Option<u64>,
}

fn refused() -> HttpResponse {
    HttpResponse::Forbidden().json(json!({
        "reason": "fault injection is disabled; start the broker with faultInjectionEnabled=true"
    }))
}

fn bad_request(reason: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "reason": reason.into() }))
}

async fn list(
    enabled: web::Data<FaultsEnabled>,
    context: web::Data<BrokerContext>,
) -> HttpResponse {
    if !enabled.0 {
        return refused();
    }
    HttpResponse::Ok().json(context.faults().active())
}

async fn clear(
    enabled: web::Data<FaultsEnabled>,
    context: web::Data<BrokerContext>,
) -> HttpResponse {
    if !enabled.0 {
        return refused();
    }
    context.faults().clear();
    HttpResponse::NoContent().finish()
}

async fn inject(
    enabled: web::Data<FaultsEnabled>,
    context: web::Data<BrokerContext>,
    body: web::Json<FaultRequest>,
) -> HttpResponse {
    if !enabled.0 {
        return refused();
    }
    let request = body.into_inner();
    let duration = request.duration_ms.map(Duration::from_millis);
    if let Some(op) = &request.storage {
        let op = match op.as_str() {
            "write" => StorageFault::Write,
            "fsync" => StorageFault::Fsync,
            other => {
                return bad_request(format!("unknown storage fault {other:?}: write or fsync"))
            }
        };
        let Some(duration) = duration else {
            return bad_request("a storage fault needs durationMs");
        };
        context.faults().storage(op, duration);
        return HttpResponse::Ok()
            .json(json!({ "storage": request.storage, "durationMs": request.duration_ms }));
    }
    let (Some(kind), Some(name), Some(action)) = (&request.kind, &request.name, &request.action)
    else {
        return bad_request("give kind, name and action, or storage and durationMs");
    };
    let Some(kind) = ActorKind::parse(kind) else {
        return bad_request(format!("unknown actor kind {kind:?}"));
    };
    let fault = match (action.as_str(), duration) {
        ("panic", _) => ActorFault::Panic,
        ("stop", _) => ActorFault::Stop,
        ("drop_mailbox", _) => ActorFault::DropMailbox,
        ("stall", Some(duration)) => ActorFault::Stall { duration },
        ("stall", None) => return bad_request("a stall needs durationMs"),
        (other, _) => {
            return bad_request(format!(
                "unknown action {other:?}: panic, stop, stall or drop_mailbox"
            ))
        }
    };
    match context.faults().actor(kind, name, fault) {
        Ok(ids) => HttpResponse::Ok().json(json!({ "applied": ids, "fault": fault })),
        Err(e) => HttpResponse::NotFound().json(json!({ "reason": e.to_string() })),
    }
}
