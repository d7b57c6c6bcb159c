//! Topic discovery: GET_TOPICS_OF_NAMESPACE and WATCH_TOPIC_LIST.

use std::collections::{BTreeSet, HashMap};

use actix::{fut::wrap_future, ActorFutureExt, AsyncContext, Context, Handler};
use geminga_protocol::{
    commands,
    proto::{
        command_get_topics_of_namespace::Mode, CommandGetTopicsOfNamespace,
        CommandGetTopicsOfNamespaceResponse, CommandWatchTopicList, CommandWatchTopicListClose,
        CommandWatchTopicListSuccess, CommandWatchTopicUpdate, ServerError,
    },
};

use super::actor::Connection;
use crate::{
    error::RequestError,
    metadata::NamespaceName,
    registry::{
        topics_hash, TopicPattern, TopicsChanged, TopicsOfNamespace, UnwatchTopics, WatchTopics,
    },
    security::NamespaceOperation,
};

/// The connection's discovery state.
#[derive(Debug, Default)]
pub(super) struct Discovery {
    /// CONNECT advertised `supports_topic_watchers`: the client handles WATCH_TOPIC_* frames.
    pub(super) supports_watchers: bool,
    /// Active watchers by their registry id.
    watches: HashMap<u64, TopicWatch>,
}

#[derive(Debug)]
struct TopicWatch {
    /// The client's watcher id.
    watcher_id: u64,
    pattern: TopicPattern,
    /// `None` until the first list is sent; changes seen before then wait in `pending`.
    topics: Option<BTreeSet<String>>,
    pending: Vec<TopicsChanged>,
}

impl Connection {
    /// GET_TOPICS_OF_NAMESPACE: topics of the mode's domains, partitions listed by their
    /// partition names, optionally filtered by the client's pattern, with the list's hash
    /// (an unchanged hash answers `changed = false` and no names).
    pub(super) fn on_topics_of_namespace(
        &mut self,
        c: CommandGetTopicsOfNamespace,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        let namespace = match NamespaceName::parse(&c.namespace) {
            Ok(ns) => ns,
            Err(e) => {
                return self.send_error(request_id, ServerError::InvalidTopicName, e.to_string())
            }
        };
        let Some(registry) = self.broker.registry() else {
            return self.send_error(request_id, ServerError::ServiceNotReady, "broker starting");
        };
        // An invalid pattern is ignored (`filtered = false`), as Pulsar does.
        let pattern = c
            .topics_pattern
            .as_deref()
            .and_then(|p| TopicPattern::new(p).ok());
        let client_hash = c.topics_hash.clone();
        let permit = match self.begin_lookup() {
            Ok(permit) => permit,
            Err(e) => return self.send_error(request_id, e.server_error(), e.to_string()),
        };
        let access = self.access();
        let list = registry.send(TopicsOfNamespace {
            namespace: namespace.clone(),
            mode: c.mode(),
        });
        // Only what the client's role may see is listed (all of it with authorization off).
        let list = async move {
            let _permit = permit;
            let topics = list.await.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            if !access.enforced() {
                return Ok(topics);
            }
            actix_rt::task::spawn_blocking(move || access.visible_topics(&namespace, topics))
                .await
                .map_err(|_| RequestError::unavailable("the metadata service"))?
        };
        let fut = wrap_future::<_, Self>(list).map(move |listed, act, _ctx| match listed {
            Ok(mut topics) => {
                let filtered = pattern.is_some();
                if let Some(pattern) = &pattern {
                    topics = pattern.filter(&topics);
                }
                let hash = topics_hash(&topics);
                let changed = client_hash.as_deref() != Some(hash.as_str());
                if !changed {
                    topics.clear();
                }
                act.send(CommandGetTopicsOfNamespaceResponse {
                    request_id,
                    topics,
                    filtered: Some(filtered),
                    topics_hash: Some(hash),
                    changed: Some(changed),
                });
            }
            Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
        });
        ctx.spawn(fut);
    }

    /// WATCH_TOPIC_LIST: the persistent topics of a namespace matching a pattern now, then
    /// WATCH_TOPIC_UPDATE whenever that set changes. Only for clients that advertised
    /// `supports_topic_watchers`.
    pub(super) fn on_watch_topic_list(
        &mut self,
        c: CommandWatchTopicList,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        if !self.discovery.supports_watchers {
            return self.send_error(
                request_id,
                ServerError::NotAllowedError,
                "WATCH_TOPIC_LIST needs supports_topic_watchers in CONNECT",
            );
        }
        if self
            .discovery
            .watches
            .values()
            .any(|w| w.watcher_id == c.watcher_id)
        {
            return self.send_error(request_id, ServerError::UnknownError, "watcher id in use");
        }
        let namespace = match NamespaceName::parse(&c.namespace) {
            Ok(ns) => ns,
            Err(e) => {
                return self.send_error(request_id, ServerError::InvalidTopicName, e.to_string())
            }
        };
        let pattern = match TopicPattern::new(&c.topics_pattern) {
            Ok(p) => p,
            Err(e) => {
                let message = format!("invalid topics pattern: {e}");
                return self.send_error(request_id, ServerError::InvalidTopicName, message);
            }
        };
        if self.access().enforced() {
            // Watchers follow a whole namespace: only for roles that may list all of it.
            return self.watch_when_allowed(c, namespace, pattern, ctx);
        }
        self.register_watch(request_id, c.watcher_id, namespace, pattern, ctx);
    }

    fn register_watch(
        &mut self,
        request_id: u64,
        watcher_id: u64,
        namespace: NamespaceName,
        pattern: TopicPattern,
        ctx: &mut Context<Self>,
    ) {
        let Some(registry) = self.broker.registry() else {
            return self.send_error(request_id, ServerError::ServiceNotReady, "broker starting");
        };
        let id = self.broker.next_id();
        let watch = TopicWatch {
            watcher_id,
            pattern,
            topics: None,
            pending: Vec::new(),
        };
        self.discovery.watches.insert(id, watch);
        // Registered before listing, so no change between the two is missed.
        registry.do_send(WatchTopics {
            id,
            namespace: namespace.clone(),
            recipient: self.me(ctx).recipient(),
        });
        let list = registry.send(TopicsOfNamespace {
            namespace,
            mode: Mode::Persistent,
        });
        let fut = wrap_future::<_, Self>(list).map(move |sent, act, _ctx| {
            match sent.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(topics) => act.start_watch(id, request_id, &topics),
                Err(e) => {
                    act.stop_watch(id);
                    act.send_error(request_id, e.server_error(), e.to_string());
                }
            }
        });
        ctx.spawn(fut);
    }

    /// Checks the namespace-wide listing grant on the blocking pool, then watches.
    fn watch_when_allowed(
        &mut self,
        c: CommandWatchTopicList,
        namespace: NamespaceName,
        pattern: TopicPattern,
        ctx: &mut Context<Self>,
    ) {
        let access = self.access();
        let (request_id, watcher_id) = (c.request_id, c.watcher_id);
        let checked = namespace.clone();
        let work = actix_rt::task::spawn_blocking(move || {
            access.namespace(&checked, NamespaceOperation::ListTopics)
        });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, ctx| {
            match joined.unwrap_or_else(|_| Err(RequestError::unavailable("the metadata service")))
            {
                Ok(()) => act.register_watch(request_id, watcher_id, namespace, pattern, ctx),
                Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
            }
        });
        ctx.spawn(fut);
    }

    fn start_watch(&mut self, id: u64, request_id: u64, all: &[String]) {
        let Some(watch) = self.discovery.watches.get_mut(&id) else {
            return;
        };
        let topics = watch.pattern.filter(all);
        let success = CommandWatchTopicListSuccess {
            request_id,
            watcher_id: watch.watcher_id,
            topics_hash: topics_hash(&topics),
            topic: topics.clone(),
        };
        watch.topics = Some(topics.into_iter().collect());
        let pending = std::mem::take(&mut watch.pending);
        self.send(success);
        for change in pending {
            self.apply_change(change);
        }
    }

    fn apply_change(&mut self, change: TopicsChanged) {
        let Some(watch) = self.discovery.watches.get_mut(&change.watch_id) else {
            return;
        };
        let Some(topics) = watch.topics.as_mut() else {
            return watch.pending.push(change);
        };
        let wanted = |n: &String| n.starts_with("persistent://") && watch.pattern.matches(n);
        let new_topics: Vec<String> = change
            .added
            .into_iter()
            .filter(|n| wanted(n) && topics.insert(n.clone()))
            .collect();
        let deleted_topics: Vec<String> = change
            .removed
            .into_iter()
            .filter(|n| topics.remove(n))
            .collect();
        if new_topics.is_empty() && deleted_topics.is_empty() {
            return;
        }
        let all: Vec<String> = topics.iter().cloned().collect();
        let update = CommandWatchTopicUpdate {
            watcher_id: watch.watcher_id,
            new_topics,
            deleted_topics,
            topics_hash: topics_hash(&all),
        };
        self.send(update);
    }

    /// WATCH_TOPIC_LIST_CLOSE: forgets the watcher; always answered with SUCCESS.
    pub(super) fn on_watch_topic_list_close(&mut self, c: CommandWatchTopicListClose) {
        let found = self
            .discovery
            .watches
            .iter()
            .find(|(_, w)| w.watcher_id == c.watcher_id)
            .map(|(id, _)| *id);
        if let Some(id) = found {
            self.stop_watch(id);
        }
        self.send(commands::success(c.request_id));
    }

    fn stop_watch(&mut self, id: u64) {
        self.discovery.watches.remove(&id);
        if let Some(registry) = self.broker.registry() {
            registry.do_send(UnwatchTopics { id });
        }
    }

    /// Drops every watcher of this connection (it is closing).
    pub(super) fn close_watches(&mut self) {
        let ids: Vec<u64> = self.discovery.watches.keys().copied().collect();
        for id in ids {
            self.stop_watch(id);
        }
    }
}

impl Handler<TopicsChanged> for Connection {
    type Result = ();

    fn handle(&mut self, msg: TopicsChanged, _ctx: &mut Context<Self>) {
        self.apply_change(msg);
    }
}
