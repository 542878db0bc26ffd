//! Pre-configured campuses and the in-process directory that matches email domains to them.

use super::{from_item, to_attrs};
use crate::domain::campus::{campus_for_domain, Campus};
use crate::store::{Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use std::sync::Arc;
use std::time::Duration;

const PK: &str = "CAMPUS";

fn campus_key(id: &str) -> Key {
    Key::new(PK, format!("CAMPUS#{id}"))
}

fn domain_key(domain: &str) -> Key {
    Key::new(format!("DOMAIN#{domain}"), "DOMAIN")
}

#[derive(Debug, thiserror::Error)]
pub enum AddCampusError {
    #[error("a campus with this id already exists")]
    IdTaken,
    #[error("domain {0} already belongs to another campus")]
    DomainTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds a campus and claims its domains, all or nothing.
pub async fn add(store: &dyn Store, campus: &Campus) -> Result<(), AddCampusError> {
    let mut writes =
        vec![Write::Put { item: Item::new(campus_key(&campus.id), to_attrs(campus)), cond: Cond::NotExists }];
    for domain in &campus.domains {
        let claim = serde_json::json!({ "campusId": campus.id });
        writes.push(Write::Put {
            item: Item::new(domain_key(domain), to_attrs(&claim)),
            cond: Cond::NotExists,
        });
    }
    match store.write(writes).await {
        Err(StoreError::ConditionFailed { index: 0 }) => Err(AddCampusError::IdTaken),
        Err(StoreError::ConditionFailed { index }) => {
            Err(AddCampusError::DomainTaken(campus.domains[index - 1].clone()))
        }
        other => Ok(other?),
    }
}

/// Adds the campuses that are not there yet (by id); returns how many were added.
pub async fn seed(store: &dyn Store, campuses: &[Campus]) -> Result<usize, AddCampusError> {
    let mut added = 0;
    for campus in campuses {
        match add(store, campus).await {
            Ok(()) => added += 1,
            Err(AddCampusError::IdTaken) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(added)
}

/// Parses and validates a campus list (the format of `infra/campuses.json`).
pub fn parse_list(json: &str) -> Result<Vec<Campus>, String> {
    let campuses: Vec<Campus> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    for campus in &campuses {
        campus.validate().map_err(|e| format!("campus {:?}: {e}", campus.id))?;
    }
    Ok(campuses)
}

pub async fn list(store: &dyn Store) -> Result<Vec<Campus>, StoreError> {
    let mut query = Query::new(PK, SkRange::Prefix("CAMPUS#".into()));
    let mut campuses = Vec::new();
    loop {
        let page = store.query(&query).await?;
        for item in &page.items {
            campuses.push(from_item(item)?);
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(campuses),
        }
    }
}

/// All campuses, cached briefly in-process: they change rarely (operator action) and every
/// registration and session read needs them.
pub struct CampusDirectory {
    store: Arc<dyn Store>,
    cache: moka::sync::Cache<(), Arc<Vec<Campus>>>,
}

impl CampusDirectory {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        CampusDirectory { store, cache: moka::sync::Cache::builder().time_to_live(ttl).build() }
    }

    pub async fn all(&self) -> Result<Arc<Vec<Campus>>, StoreError> {
        if let Some(hit) = self.cache.get(&()) {
            return Ok(hit);
        }
        let fresh = Arc::new(list(self.store.as_ref()).await?);
        self.cache.insert((), fresh.clone());
        Ok(fresh)
    }

    pub async fn for_domain(&self, domain: &str) -> Result<Option<Campus>, StoreError> {
        Ok(campus_for_domain(&self.all().await?, domain).cloned())
    }

    /// A user's campus; a miss reloads once, in case the campus was added after the cache filled.
    pub async fn by_id(&self, id: &str) -> Result<Option<Campus>, StoreError> {
        if let Some(hit) = self.all().await?.iter().find(|c| c.id == id) {
            return Ok(Some(hit.clone()));
        }
        self.cache.invalidate(&());
        Ok(self.all().await?.iter().find(|c| c.id == id).cloned())
    }
}
