//! The table of loaded topics, shared by every instance of the registry.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use actix::Addr;

use crate::topic::Topic;

/// A loaded topic and the instance number that tells its incarnations apart.
#[derive(Clone, Debug)]
pub struct TopicSlot {
    /// The topic actor.
    pub addr: Addr<Topic>,
    /// Which incarnation; a notice about an older one must not remove a newer one.
    pub instance: u64,
}

/// Name -> topic actor. Kept outside the registry actor so that a replaced registry (its
/// mailbox dropped, or its restart budget exhausted) inherits the live topics: starting a
/// second actor for a loaded topic would give its log two writers.
#[derive(Clone, Debug, Default)]
pub struct TopicTable {
    inner: Arc<Mutex<HashMap<String, TopicSlot>>>,
}

impl TopicTable {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, TopicSlot>> {
        // Single inserts and removes cannot leave the map half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The actor of a loaded topic.
    pub fn get(&self, name: &str) -> Option<Addr<Topic>> {
        self.lock().get(name).map(|slot| slot.addr.clone())
    }

    /// Records a newly started topic actor.
    pub fn insert(&self, name: String, slot: TopicSlot) {
        self.lock().insert(name, slot);
    }

    /// Forgets `name` if `instance` is still the loaded one.
    pub fn remove_instance(&self, name: &str, instance: u64) {
        let mut topics = self.lock();
        if topics.get(name).is_some_and(|s| s.instance == instance) {
            topics.remove(name);
        }
    }

    /// Drops entries whose actor is gone.
    pub fn retain_live(&self) {
        self.lock().retain(|_, slot| slot.addr.connected());
    }

    /// Names and actors of every loaded topic.
    pub fn list(&self) -> Vec<(String, Addr<Topic>)> {
        self.lock()
            .iter()
            .map(|(name, slot)| (name.clone(), slot.addr.clone()))
            .collect()
    }

    /// Takes `name` out of the table (unload, delete), returning its slot.
    pub fn remove(&self, name: &str) -> Option<TopicSlot> {
        self.lock().remove(name)
    }

    /// Names of every loaded topic.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}
