//! The C form of a message's endpoint URL, made once per endpoint and shared by its messages.

use std::ffi::CString;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(crate) struct UrlCache(Mutex<Option<(Arc<str>, Arc<CString>)>>);

impl UrlCache {
    pub fn get(&self, url: &Arc<str>) -> Arc<CString> {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((key, c)) = cache.as_ref() {
            if Arc::ptr_eq(key, url) {
                return c.clone();
            }
        }
        // URLs come from a parsed `url::Url`: no interior NUL.
        let c = Arc::new(CString::new(url.as_bytes()).unwrap_or_default());
        *cache = Some((url.clone(), c.clone()));
        c
    }
}
