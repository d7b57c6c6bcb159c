//! A client retrying PRODUCER or SUBSCRIBE with the same id gets the first answer again, and a
//! failed request leaves the connection serving everything else.

use geminga_protocol::commands;
use geminga_protocol::proto::command_subscribe::SubType;
use geminga_protocol::proto::ServerError;

use crate::common::{unique_topic, TestBroker};
use crate::raw_client::{RawClient, SubscribeRequest};

/// Goal: PRODUCER repeated with the same producer id (a client retry) is answered as the first
/// one was, with the same producer name. Method: a raw connection sends PRODUCER twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_producer_request_gets_the_same_answer() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.service_url, 20).await;
    let topic = unique_topic("retry-producer");
    let mut names = Vec::new();
    for _ in 0..2 {
        let request_id = raw.request_id();
        raw.send(commands::client::producer(
            topic.as_str(),
            7,
            request_id,
            None,
        ))
        .await;
        let answer = raw
            .wait_for("PRODUCER_SUCCESS", |c| {
                c.producer_success
                    .as_ref()
                    .is_some_and(|s| s.request_id == request_id)
            })
            .await;
        names.push(answer.producer_success.expect("success").producer_name);
    }
    assert_eq!(names[0], names[1], "the retry names the same producer");
}

/// Goal: SUBSCRIBE repeated with the same consumer id is answered SUCCESS again, while a
/// different consumer id on the Exclusive subscription is refused with ConsumerBusy, and the
/// connection keeps working after that error. Method: raw SUBSCRIBEs, then a LOOKUP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_subscribe_succeeds_and_an_error_keeps_the_connection_open() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.service_url, 20).await;
    let topic = unique_topic("retry-subscribe");
    let request = |consumer_id| SubscribeRequest {
        topic: topic.as_str(),
        subscription: "s",
        sub_type: SubType::Exclusive,
        consumer_id,
        name: "c",
        key_shared: None,
    };
    for _ in 0..2 {
        let answer = raw.subscribe(request(1)).await;
        assert!(answer.success.is_some(), "{answer:?}");
    }
    let busy = raw.subscribe(request(2)).await;
    let error = busy.error.expect("the second consumer is refused");
    assert_eq!(error.error(), ServerError::ConsumerBusy);
    let request_id = raw.request_id();
    raw.send(commands::client::lookup(topic.as_str(), request_id))
        .await;
    let lookup = raw
        .wait_for("LOOKUP_RESPONSE", |c| {
            c.lookup_topic_response
                .as_ref()
                .is_some_and(|l| l.request_id == request_id)
        })
        .await;
    let url = lookup.lookup_topic_response.expect("lookup answered");
    assert_eq!(
        url.broker_service_url.as_deref(),
        Some(broker.service_url.as_str())
    );
}
