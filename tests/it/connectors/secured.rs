//! Connectors on a broker with token authentication and authorization: the runtime's client
//! presents `brokerClientAuthentication*` credentials, and `/admin/v3` needs a tenant admin.

use geminga::config::{BrokerClientAuth, BrokerConfig};
use pulsar::consumer::InitialPosition;
use serde_json::json;

use super::append_lines;
use crate::common::{exclusive, receive_payloads, unique_topic, within, TestBroker};
use crate::security::{as_admin, client_as, on_a_large_stack, secured, token};

/// Token auth and authorization on; the connectors' client is the superuser `connector`.
fn secured_with_connector_role(c: &mut BrokerConfig) {
    secured(c);
    c.security.super_user_roles.insert("connector".to_owned());
    c.security.broker_client_plugin = true;
    c.security.broker_client_parameters = Some(BrokerClientAuth::Token(token("connector", None)));
}

/// POST `path` with a JSON body and an optional bearer token: the status.
async fn post_as(broker: &TestBroker, path: &str, body: String, bearer: Option<String>) -> u16 {
    let url = format!("{}{path}", broker.admin_url);
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.post(&url).header("Content-Type", "application/json");
        if let Some(bearer) = bearer {
            request = request.header("Authorization", format!("Bearer {bearer}"));
        }
        request.send(body).unwrap().status().as_u16()
    });
    within("admin request", work).await.unwrap()
}

#[test]
fn a_file_source_publishes_with_the_broker_client_token() {
    on_a_large_stack(a_file_source_publishes_with_the_broker_client_token_body);
}

async fn a_file_source_publishes_with_the_broker_client_token_body() {
    let broker = TestBroker::start_with(secured_with_connector_role);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("input dir");
    let topic = unique_topic("secured-src");
    let config = json!({
        "topicName": topic,
        "sourceType": "file",
        "configs": {"inputDirectory": input, "pollingInterval": 20},
    })
    .to_string();
    let path = "/admin/v3/sources/public/default/secured-file";

    // Creating a connector needs a tenant admin (or superuser): no token, or a role that
    // administers nothing, is refused.
    assert_eq!(post_as(&broker, path, config.clone(), None).await, 401);
    let stranger = Some(token("stranger", Some(600)));
    assert_eq!(post_as(&broker, path, config.clone(), stranger).await, 403);
    assert_eq!(as_admin(&broker, "POST", path, &config).await, 204);

    let reader = client_as(&broker.service_url, Some(&token("admin", Some(600))))
        .await
        .expect("a superuser token connects");
    let mut consumer = exclusive(&reader, &topic, "check", InitialPosition::Earliest).await;
    append_lines(&input.join("data.txt"), 0, 5);
    let got = receive_payloads(&mut consumer, 5).await;
    let want: Vec<String> = (0..5).map(|i| format!("rec-{i}")).collect();
    assert_eq!(got, want);
}
