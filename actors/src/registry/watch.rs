//! Topic-list watchers: who hears about topics appearing and going away.

use actix::{Context, Handler, Recipient};
use geminga_protocol::topic_name::TopicName;

use super::{
    actor::TopicRegistry,
    messages::{NotifyTopics, TopicsChanged, UnwatchTopics, WatchTopics},
};
use crate::metadata::NamespaceName;

/// One registered watcher.
pub(super) struct Watcher {
    namespace: NamespaceName,
    recipient: Recipient<TopicsChanged>,
}

impl TopicRegistry {
    /// Tells the watchers of `name`'s namespace that it appeared (`added`) or went away.
    pub(super) fn topics_changed(&mut self, name: &str, added: bool) {
        let names = vec![name.to_owned()];
        if added {
            self.notify(names, Vec::new());
        } else {
            self.notify(Vec::new(), names);
        }
    }

    fn notify(&mut self, added: Vec<String>, removed: Vec<String>) {
        let namespace_of = |n: &String| {
            TopicName::parse(n)
                .ok()
                .map(|t| NamespaceName::of_topic(&t))
        };
        // Watchers whose connection is gone are dropped here.
        self.watchers.retain(|_, w| w.recipient.connected());
        for (id, watcher) in &self.watchers {
            let pick = |names: &[String]| -> Vec<String> {
                names
                    .iter()
                    .filter(|n| namespace_of(n).as_ref() == Some(&watcher.namespace))
                    .cloned()
                    .collect()
            };
            let (added, removed) = (pick(&added), pick(&removed));
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            watcher.recipient.do_send(TopicsChanged {
                watch_id: *id,
                added,
                removed,
            });
        }
    }
}

impl Handler<WatchTopics> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: WatchTopics, _ctx: &mut Context<Self>) {
        let watcher = Watcher {
            namespace: msg.namespace,
            recipient: msg.recipient,
        };
        self.watchers.insert(msg.id, watcher);
    }
}

impl Handler<UnwatchTopics> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: UnwatchTopics, _ctx: &mut Context<Self>) {
        self.watchers.remove(&msg.id);
    }
}

impl Handler<NotifyTopics> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: NotifyTopics, _ctx: &mut Context<Self>) {
        self.notify(msg.added, msg.removed);
    }
}
