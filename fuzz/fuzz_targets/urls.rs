//! The URL builders and the WebId list splitter (`src/urls.rs`). Never a panic; a built URL is
//! what the url crate reads back unchanged, under the base, with exactly the WebIds and the
//! options given (decoded), in the documented order; `ad_hoc_split` keeps every URL within
//! its limit and loses, reorders or duplicates no WebId; the splitter keeps every WebId.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use piwebasync_rust::urls::{
    split_web_id_list, validate_web_id, ChannelUrls, UrlOptions, WebIdType, DEFAULT_MAX_URL_LEN,
};
use url::Url;

const SCHEMES: &[&str] = &["https", "http", "wss", "ws", "ftp", "HTTPS", ""];
const HOSTS: &[&str] = &[
    "piserver",
    "pi.example.com",
    "127.0.0.1",
    "::1",
    "[::1]",
    "h\u{e9}te",
    "",
];
const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

fn pick<'a>(u: &mut Unstructured<'_>, list: &[&'a str]) -> Result<String> {
    Ok(if u.ratio(3, 4)? {
        u.choose(list)?.to_string()
    } else {
        u.arbitrary()?
    })
}

fn web_id(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(7, 8)? {
        let n = u.int_in_range(1..=40)?;
        (0..n).map(|_| Ok(*u.choose(ID_CHARS)? as char)).collect()
    } else {
        u.arbitrary()
    }
}

fn options(u: &mut Unstructured<'_>) -> Result<UrlOptions> {
    let types = [
        WebIdType::Full,
        WebIdType::IdOnly,
        WebIdType::PathOnly,
        WebIdType::LocalIdOnly,
        WebIdType::DefaultIdOnly,
    ];
    let mut o = UrlOptions {
        include_initial_values: u.arbitrary()?,
        heartbeat_rate: u.arbitrary()?,
        web_id_type: if u.arbitrary()? {
            Some(*u.choose(&types)?)
        } else {
            None
        },
        ..UrlOptions::default()
    };
    if u.ratio(1, 3)? {
        o.name_filter = u.arbitrary()?;
        o.category_name = u.arbitrary()?;
        o.template_name = u.arbitrary()?;
        o.search_full_hierarchy = u.arbitrary()?;
        o.show_excluded = u.arbitrary()?;
        o.show_hidden = u.arbitrary()?;
    }
    Ok(o)
}

/// The query parameters `o` should give, decoded, in the documented order.
fn expected(o: &UrlOptions, stream_set: bool) -> Vec<(String, String)> {
    let text = |n: &str, v: &Option<String>| {
        v.as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| (n.to_string(), s.clone()))
    };
    let flag = |n: &str, v: Option<bool>| v.map(|b| (n.to_string(), b.to_string()));
    let mut out = vec![
        flag("includeInitialValues", o.include_initial_values),
        o.heartbeat_rate
            .map(|r| ("heartbeatRate".into(), r.to_string())),
        o.web_id_type
            .map(|t| ("webIdType".into(), t.as_str().into())),
    ];
    if stream_set {
        out.extend([
            text("nameFilter", &o.name_filter),
            text("categoryName", &o.category_name),
            text("templateName", &o.template_name),
            flag("searchFullHierarchy", o.search_full_hierarchy),
            flag("showExcluded", o.show_excluded),
            flag("showHidden", o.show_hidden),
        ]);
    }
    out.into_iter().flatten().collect()
}

fn has_set_only(o: &UrlOptions) -> bool {
    [&o.name_filter, &o.category_name, &o.template_name]
        .iter()
        .any(|v| v.as_ref().is_some_and(|s| !s.is_empty()))
        || o.search_full_hierarchy.is_some()
        || o.show_excluded.is_some()
        || o.show_hidden.is_some()
}

/// `url` reads back unchanged, lies under `base` at `path`, and carries `query`.
fn check_url(url: &str, base: &str, path: &str, query: &[(String, String)]) {
    let parsed = Url::parse(url).unwrap_or_else(|e| panic!("{url:?} is not a URL: {e}"));
    assert_eq!(parsed.as_str(), url, "the url crate rewrites {url:?}");
    let (p, q) = url.split_once('?').unwrap_or((url, ""));
    assert_eq!(p, format!("{base}{path}"), "path of {url:?}");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert_eq!(pairs, query, "query of {url:?}");
    assert_eq!(q.is_empty(), query.is_empty());
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let urls = if u.arbitrary()? {
        ChannelUrls::new(&pick(
            u,
            &[
                "https://pi/piwebapi",
                "wss://h:1/r/",
                "http://[::1]:8080/a/b",
            ],
        )?)
    } else {
        let scheme = pick(u, SCHEMES)?;
        let host = pick(u, HOSTS)?;
        ChannelUrls::from_parts(
            &scheme,
            &host,
            u.arbitrary()?,
            &pick(u, &["piwebapi", "/a/b/", ""])?,
        )
    };
    // The splitter: every entry non-empty, no separator in it, all of them in order.
    let list: String = u.arbitrary()?;
    let parts = split_web_id_list(&list);
    let sep = |c: char| c == ',' || c == ';' || c.is_whitespace();
    assert!(parts.iter().all(|p| !p.is_empty() && !p.contains(sep)));
    assert_eq!(
        parts.concat(),
        list.replace(sep, ""),
        "the splitter lost text of {list:?}"
    );

    let Ok(urls) = urls else {
        return Ok(());
    };
    let base = urls.base().to_string();
    assert!(
        base.starts_with("ws://") || base.starts_with("wss://"),
        "{base}"
    );
    assert!(base.ends_with('/'));
    assert_eq!(
        ChannelUrls::new(&base).map(|c| c.base().to_string()).ok(),
        Some(base.clone())
    );
    let parsed = Url::parse(&base).expect("the base is a URL");
    assert!(parsed.query().is_none() && parsed.fragment().is_none() && parsed.host_str().is_some());

    let n = u.int_in_range(0..=12)?;
    let ids: Vec<String> = (0..n).map(|_| web_id(u)).collect::<Result<_>>()?;
    let o = options(u)?;
    let ids_ok = ids.iter().all(|i| validate_web_id(i).is_ok());

    if let Some(id) = ids.first() {
        let id_ok = validate_web_id(id).is_ok();
        let stream = urls.stream(id, &o);
        assert_eq!(
            stream.is_ok(),
            id_ok && !has_set_only(&o),
            "stream({id:?}, {o:?}): {stream:?}"
        );
        if let Ok(s) = stream {
            check_url(
                &s,
                &base,
                &format!("streams/{id}/channel"),
                &expected(&o, false),
            );
        }
        let set = urls.stream_set(id, &o);
        assert_eq!(set.is_ok(), id_ok, "stream_set({id:?}): {set:?}");
        if let Ok(s) = set {
            check_url(
                &s,
                &base,
                &format!("streamsets/{id}/channel"),
                &expected(&o, true),
            );
        }
    }

    let ad_hoc = urls.ad_hoc(&ids, &o);
    assert_eq!(
        ad_hoc.is_ok(),
        !ids.is_empty() && ids_ok && !has_set_only(&o),
        "ad_hoc: {ad_hoc:?}"
    );
    let Ok(one) = ad_hoc else {
        return Ok(());
    };
    let mut query: Vec<(String, String)> =
        ids.iter().map(|i| ("webId".into(), i.clone())).collect();
    query.extend(expected(&o, false));
    check_url(&one, &base, "streamsets/channel", &query);
    // A list written with separators splits back into the same WebIds.
    assert_eq!(split_web_id_list(&ids.join(", ")), ids);

    let max_len = u.int_in_range(0..=600)?;
    let limit = if max_len == 0 {
        DEFAULT_MAX_URL_LEN
    } else {
        max_len
    };
    match urls.ad_hoc_split(&ids, &o, max_len) {
        Ok(parts) => {
            assert!(!parts.is_empty());
            let mut got = Vec::new();
            for p in &parts {
                assert!(p.len() <= limit, "{} bytes > {limit}: {p}", p.len());
                let mine: Vec<String> = Url::parse(p)
                    .unwrap()
                    .query_pairs()
                    .filter(|(k, _)| k == "webId")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                assert!(!mine.is_empty());
                assert_eq!(urls.ad_hoc(&mine, &o).unwrap(), *p);
                got.extend(mine);
            }
            assert_eq!(got, ids, "ad_hoc_split lost or reordered WebIds");
            if one.len() <= limit {
                assert_eq!(parts, [one], "a URL that fits is not split");
            }
        }
        Err(_) => {
            // Only when some WebId cannot fit even alone.
            let fits_alone =
                |id: &String| urls.ad_hoc(std::slice::from_ref(id), &o).unwrap().len() <= limit;
            assert!(
                !ids.iter().all(fits_alone),
                "ad_hoc_split refused WebIds that fit (limit {limit})"
            );
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
