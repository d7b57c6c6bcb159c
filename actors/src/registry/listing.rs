//! Listing a namespace's topics: the domain filter, Pulsar's pattern rules and topics hash.

use std::collections::BTreeSet;

use actix::{Context, Handler, ResponseFuture};
use geminga_protocol::{
    proto::command_get_topics_of_namespace::Mode,
    topic_name::{TopicDomain, TopicName},
};
use regex::{Regex, RegexBuilder};

use super::{actor::TopicRegistry, messages::TopicsOfNamespace};
use crate::error::RequestError;

/// Compiled size limit of a client's topic pattern, so a hostile regex cannot eat memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A client's topics pattern with Pulsar's rules (`TopicList.filterTopics`): the domain
/// scheme is ignored on both sides, the whole name must match, and partitions match by their
/// base name.
#[derive(Clone, Debug)]
pub struct TopicPattern {
    regex: Regex,
}

impl TopicPattern {
    /// Compiles `pattern` (for example `persistent://public/default/orders-.*`).
    ///
    /// # Errors
    /// The regex does not compile or is too large.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let regex = RegexBuilder::new(&format!("^(?:{})$", strip_scheme(pattern)))
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()?;
        Ok(Self { regex })
    }

    /// Whether a full topic name matches.
    pub fn matches(&self, full_name: &str) -> bool {
        let base = TopicName::parse(full_name)
            .map(|t| t.base_name().to_string())
            .unwrap_or_else(|_| full_name.to_owned());
        self.regex.is_match(strip_scheme(&base))
    }

    /// The names that match, in order.
    pub fn filter(&self, names: &[String]) -> Vec<String> {
        names.iter().filter(|n| self.matches(n)).cloned().collect()
    }
}

fn strip_scheme(name: &str) -> &str {
    name.split_once("://").map_or(name, |(_, rest)| rest)
}

/// Pulsar's `TopicList.calculateHash`: CRC32C over the sorted names, written as Guava's
/// `HashCode.toString()` does (the little-endian bytes in hex).
pub fn topics_hash(names: &[String]) -> String {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    let crc = sorted
        .iter()
        .fold(0, |crc, name| crc32c::crc32c_append(crc, name.as_bytes()));
    crc.to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn domains(mode: Mode) -> &'static [TopicDomain] {
    match mode {
        Mode::Persistent => &[TopicDomain::Persistent],
        Mode::NonPersistent => &[TopicDomain::NonPersistent],
        Mode::All => &[TopicDomain::Persistent, TopicDomain::NonPersistent],
    }
}

impl Handler<TopicsOfNamespace> for TopicRegistry {
    type Result = ResponseFuture<Result<Vec<String>, RequestError>>;

    fn handle(&mut self, msg: TopicsOfNamespace, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let metadata = self.broker.metadata().clone();
        let ns = msg.namespace;
        let domains = domains(msg.mode);
        // Live topics cover non-persistent ones, which never reach storage.
        let live: Vec<String> = self.topics.names();
        Box::pin(async move {
            let work = move || -> Result<Vec<String>, RequestError> {
                if !metadata.namespace_exists(&ns)? {
                    return Err(RequestError::NamespaceNotFound {
                        namespace: ns.to_string(),
                    });
                }
                let prefixes: Vec<String> =
                    domains.iter().map(|d| format!("{d}://{ns}/")).collect();
                let in_scope = |name: &str| prefixes.iter().any(|p| name.starts_with(p.as_str()));
                let mut names: BTreeSet<String> = storage
                    .list_topics()?
                    .into_iter()
                    .map(|r| r.name)
                    .chain(live)
                    .filter(|n| in_scope(n))
                    .collect();
                for domain in domains {
                    for (base, partitions) in metadata.partitioned_topics(&ns, *domain)? {
                        names.remove(&base);
                        names.extend((0..partitions).map(|i| format!("{base}-partition-{i}")));
                    }
                }
                Ok(names.into_iter().collect())
            };
            actix_rt::task::spawn_blocking(work)
                .await
                .map_err(|_| RequestError::unavailable("topic listing"))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pattern_matches_whole_base_names_without_the_scheme() {
        let pattern = TopicPattern::new("persistent://public/default/orders-.*").unwrap();
        let all = names(&[
            "persistent://public/default/orders-eu",
            "persistent://public/default/orders-us-partition-3",
            "non-persistent://public/default/orders-x",
            "persistent://public/default/my-orders-eu",
            "persistent://public/other/orders-eu",
        ]);
        assert_eq!(
            pattern.filter(&all),
            names(&[
                "persistent://public/default/orders-eu",
                "persistent://public/default/orders-us-partition-3",
                "non-persistent://public/default/orders-x",
            ])
        );
        assert!(TopicPattern::new("(").is_err());
    }

    #[test]
    fn topics_hash_ignores_order_and_changes_with_the_set() {
        let a = topics_hash(&names(&["persistent://t/n/a", "persistent://t/n/b"]));
        let b = topics_hash(&names(&["persistent://t/n/b", "persistent://t/n/a"]));
        let c = topics_hash(&names(&["persistent://t/n/a"]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 8);
        // The empty list hashes to CRC32C's initial value.
        assert_eq!(topics_hash(&[]), "00000000");
    }
}
