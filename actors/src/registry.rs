//! The instance-scoped registry: id → actor ref (plus the little the facade needs to
//! route a request: the owning agent token and the live view). Supervisors write it;
//! the facade reads it. Nothing here is global, so several apps can share a process.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ractor::ActorRef;

use crate::host::HostMsg;
use crate::ids::{HostId, ServiceId};
use crate::live::HostLive;
use crate::service::ServiceMsg;

/// A host's actor and routing facts.
#[derive(Clone)]
pub struct HostEntry {
    pub actor: ActorRef<HostMsg>,
    /// The agent token the host registered with; requests from other tokens are refused.
    pub token_id: Option<i64>,
    pub live: Arc<HostLive>,
    /// Group and tags, for rule target filters.
    pub group_name: Option<String>,
    pub tags: Arc<[String]>,
}

/// A service's actor and the host it belongs to.
#[derive(Clone)]
pub struct ServiceEntry {
    pub actor: ActorRef<ServiceMsg>,
    pub host_id: HostId,
}

/// id → entry maps for every actor kind the facade talks to.
#[derive(Default)]
pub struct Registry {
    hosts: RwLock<HashMap<HostId, HostEntry>>,
    services: RwLock<HashMap<ServiceId, ServiceEntry>>,
}

impl Registry {
    pub fn host(&self, id: HostId) -> Option<HostEntry> {
        self.hosts.read().expect("registry lock is never poisoned").get(&id).cloned()
    }

    /// Every host's live view, for summaries.
    pub fn host_lives(&self) -> Vec<(HostId, Arc<HostLive>)> {
        let map = self.hosts.read().expect("registry lock is never poisoned");
        map.iter().map(|(id, e)| (*id, Arc::clone(&e.live))).collect()
    }

    pub fn host_count(&self) -> usize {
        self.hosts.read().expect("registry lock is never poisoned").len()
    }

    pub(crate) fn put_host(&self, id: HostId, entry: HostEntry) {
        self.hosts.write().expect("registry lock is never poisoned").insert(id, entry);
    }

    pub(crate) fn set_host_actor(&self, id: HostId, actor: ActorRef<HostMsg>) {
        if let Some(e) = self.hosts.write().expect("registry lock is never poisoned").get_mut(&id) {
            e.actor = actor;
        }
    }

    pub(crate) fn set_host_token(
        &self,
        id: HostId,
        token_id: Option<i64>,
        group_name: Option<String>,
        tags: Vec<String>,
    ) {
        if let Some(e) = self.hosts.write().expect("registry lock is never poisoned").get_mut(&id) {
            e.token_id = token_id;
            e.group_name = group_name;
            e.tags = tags.into();
        }
    }

    pub(crate) fn remove_host(&self, id: HostId) {
        self.hosts.write().expect("registry lock is never poisoned").remove(&id);
    }

    pub fn service(&self, id: ServiceId) -> Option<ServiceEntry> {
        self.services.read().expect("registry lock is never poisoned").get(&id).cloned()
    }

    pub(crate) fn put_service(&self, id: ServiceId, entry: ServiceEntry) {
        self.services.write().expect("registry lock is never poisoned").insert(id, entry);
    }

    pub(crate) fn set_service_actor(&self, id: ServiceId, actor: ActorRef<ServiceMsg>) {
        if let Some(e) =
            self.services.write().expect("registry lock is never poisoned").get_mut(&id)
        {
            e.actor = actor;
        }
    }

    pub(crate) fn remove_service(&self, id: ServiceId) {
        self.services.write().expect("registry lock is never poisoned").remove(&id);
    }
}
