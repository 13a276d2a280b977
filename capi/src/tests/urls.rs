//! Channel URL builders: each endpoint and parameter, escaping, the split helper's limits,
//! bad input, the C API, and a built URL that opens against the simulator.

use super::common;

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use crate::*;
use piwebasync::urls::*;
use piwebasync::{Channel, ChannelConfig, ErrorKind};
use proptest::prelude::*;

const BASE: &str = "https://pi.example.com/piwebapi";

fn urls() -> ChannelUrls {
    ChannelUrls::new(BASE).unwrap()
}

fn err(r: Result<impl std::fmt::Debug, piwebasync::Error>) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    e.message().to_string()
}

#[test]
fn each_endpoint_and_scheme() {
    let none = UrlOptions::default();
    for (base, expected) in [
        (
            "https://pi.example.com/piwebapi",
            "wss://pi.example.com/piwebapi/",
        ),
        (
            "https://pi.example.com/piwebapi/",
            "wss://pi.example.com/piwebapi/",
        ),
        ("http://pi:8080/piwebapi", "ws://pi:8080/piwebapi/"),
        ("wss://pi:443/piwebapi", "wss://pi/piwebapi/"),
        (
            "ws://127.0.0.1:1234/piwebapi",
            "ws://127.0.0.1:1234/piwebapi/",
        ),
        ("HTTPS://PI.Example.com/a/b", "wss://pi.example.com/a/b/"),
        ("https://pi.example.com", "wss://pi.example.com/"),
        ("  https://pi/piwebapi  ", "wss://pi/piwebapi/"),
        ("https://[::1]:8443/piwebapi", "wss://[::1]:8443/piwebapi/"),
    ] {
        let u = ChannelUrls::new(base).unwrap();
        assert_eq!(u.base(), expected, "{base}");
        assert_eq!(
            u.stream("F1DPx", &none).unwrap(),
            format!("{expected}streams/F1DPx/channel")
        );
        assert_eq!(
            u.stream_set("F1Em-y_z", &none).unwrap(),
            format!("{expected}streamsets/F1Em-y_z/channel")
        );
        assert_eq!(
            u.ad_hoc(&["A", "B", "C"], &none).unwrap(),
            format!("{expected}streamsets/channel?webId=A&webId=B&webId=C")
        );
    }
}

#[test]
fn from_parts_like_the_python_controller() {
    let u = ChannelUrls::from_parts("https", "pi.example.com", Some(8443), "piwebapi").unwrap();
    assert_eq!(u.base(), "wss://pi.example.com:8443/piwebapi/");
    let u = ChannelUrls::from_parts("http", "::1", None, "/piwebapi/").unwrap();
    assert_eq!(u.base(), "ws://[::1]/piwebapi/");
    assert!(err(ChannelUrls::from_parts("https", "", None, "piwebapi")).contains("host is empty"));
    assert!(err(ChannelUrls::from_parts("https", "a/b", None, "piwebapi")).contains("host"));
    assert!(err(ChannelUrls::from_parts("ftp", "h", None, "piwebapi")).contains("scheme 'ftp'"));
    assert!(err(ChannelUrls::from_parts("https", "h", None, "x?y")).contains("root"));
}

#[test]
fn every_parameter() {
    let u = urls();
    let o = UrlOptions {
        include_initial_values: Some(true),
        heartbeat_rate: Some(5),
        web_id_type: Some(WebIdType::PathOnly),
        ..UrlOptions::default()
    };
    let expected_q = "includeInitialValues=true&heartbeatRate=5&webIdType=PathOnly";
    assert_eq!(
        u.stream("W", &o).unwrap(),
        format!("wss://pi.example.com/piwebapi/streams/W/channel?{expected_q}")
    );
    assert_eq!(
        u.ad_hoc(&["A", "B"], &o).unwrap(),
        format!("wss://pi.example.com/piwebapi/streamsets/channel?webId=A&webId=B&{expected_q}")
    );
    let all = UrlOptions {
        include_initial_values: Some(false),
        heartbeat_rate: Some(-1),
        web_id_type: Some(WebIdType::Full),
        name_filter: Some("Flow*".into()),
        category_name: Some("Process Data".into()),
        template_name: Some("Pump".into()),
        search_full_hierarchy: Some(true),
        show_excluded: Some(false),
        show_hidden: Some(true),
    };
    assert_eq!(
        u.stream_set("E", &all).unwrap(),
        "wss://pi.example.com/piwebapi/streamsets/E/channel?includeInitialValues=false&heartbeatRate=-1&webIdType=Full\
         &nameFilter=Flow*&categoryName=Process%20Data&templateName=Pump&searchFullHierarchy=true&showExcluded=false&showHidden=true"
    );
    for (t, s) in [
        (WebIdType::Full, "Full"),
        (WebIdType::IdOnly, "IDOnly"),
        (WebIdType::PathOnly, "PathOnly"),
        (WebIdType::LocalIdOnly, "LocalIDOnly"),
        (WebIdType::DefaultIdOnly, "DefaultIDOnly"),
    ] {
        let o = UrlOptions {
            web_id_type: Some(t),
            ..UrlOptions::default()
        };
        assert!(u
            .stream("W", &o)
            .unwrap()
            .ends_with(&format!("?webIdType={s}")));
    }
    // Empty text is left out.
    let o = UrlOptions {
        name_filter: Some(String::new()),
        ..UrlOptions::default()
    };
    assert_eq!(
        u.stream_set("E", &o).unwrap(),
        "wss://pi.example.com/piwebapi/streamsets/E/channel"
    );
}

#[test]
fn stream_set_parameters_are_refused_elsewhere() {
    let u = urls();
    for o in [
        UrlOptions {
            name_filter: Some("x".into()),
            ..UrlOptions::default()
        },
        UrlOptions {
            category_name: Some("x".into()),
            ..UrlOptions::default()
        },
        UrlOptions {
            template_name: Some("x".into()),
            ..UrlOptions::default()
        },
        UrlOptions {
            search_full_hierarchy: Some(true),
            ..UrlOptions::default()
        },
        UrlOptions {
            show_excluded: Some(false),
            ..UrlOptions::default()
        },
        UrlOptions {
            show_hidden: Some(true),
            ..UrlOptions::default()
        },
    ] {
        assert!(err(u.stream("W", &o)).contains("applies only to stream-set channels"));
        assert!(err(u.ad_hoc(&["W"], &o)).contains("ad hoc"));
        assert!(u.stream_set("W", &o).is_ok());
    }
}

#[test]
fn text_parameters_are_percent_encoded() {
    let u = urls();
    let nasty = "a b&c=d?e#f%g+h/i\\j*k'ü\u{1F600}";
    let o = UrlOptions {
        name_filter: Some(nasty.into()),
        category_name: Some("x&webId=EVIL".into()),
        ..UrlOptions::default()
    };
    let built = u.stream_set("E", &o).unwrap();
    assert_eq!(
        built,
        "wss://pi.example.com/piwebapi/streamsets/E/channel?nameFilter=a%20b%26c%3Dd%3Fe%23f%25g%2Bh%2Fi%5Cj*k%27%C3%BC%F0%9F%98%80\
         &categoryName=x%26webId%3DEVIL"
    );
    let parsed = url::Url::parse(&built).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("nameFilter".to_string(), nasty.to_string()),
            ("categoryName".to_string(), "x&webId=EVIL".to_string())
        ]
    );
    // The root path is escaped by the URL parser.
    let u = ChannelUrls::new("https://h/pi web api").unwrap();
    assert_eq!(
        u.stream("W", &UrlOptions::default()).unwrap(),
        "wss://h/pi%20web%20api/streams/W/channel"
    );
}

#[test]
fn bad_bases() {
    for (base, needle) in [
        ("", "invalid base URL"),
        ("piwebapi", "invalid base URL"),
        ("ftp://h/piwebapi", "scheme 'ftp'"),
        ("file://h/piwebapi", "scheme 'file'"),
        ("file:///piwebapi", "has no host"),
        ("mailto:someone@example.com", "expected scheme://host"),
        ("https:///piwebapi", "has no host"),
        ("https://", "has no host"),
        ("https:/h/piwebapi", "expected scheme://host"),
        ("https:h/piwebapi", "expected scheme://host"),
        ("https://:443/piwebapi", "invalid base URL"),
        ("https://h/piwebapi?webId=x", "has a query"),
        ("https://h/piwebapi?", "has a query"),
        ("https://h/piwebapi#top", "fragment"),
        ("https://h:99999/piwebapi", "invalid base URL"),
    ] {
        let m = err(ChannelUrls::new(base));
        assert!(m.contains(needle), "{base}: {m}");
    }
}

#[test]
fn bad_web_ids() {
    let u = urls();
    let none = UrlOptions::default();
    assert!(err(u.stream("", &none)).contains("WebId #0 is empty"));
    assert!(err(u.stream_set("a/b", &none)).contains("'/' at byte 1"));
    assert!(err(u.stream("a b", &none)).contains("' '"));
    assert!(err(u.stream("F1DP=", &none)).contains("'='"));
    assert!(err(u.stream("ü", &none)).contains("A-Z"));
    assert!(err(u.ad_hoc(&["A", "", "C"], &none)).contains("WebId #1 is empty"));
    assert!(err(u.ad_hoc(&["A", "B", "C?"], &none)).contains("WebId #2"));
    assert!(err(u.ad_hoc::<&str>(&[], &none)).contains("at least one WebId"));
    assert!(err(u.ad_hoc_split::<&str>(&[], &none, 0)).contains("at least one WebId"));
    assert!(validate_web_id("F1DP-_09azAZ").is_ok());
    assert_eq!(split_web_id_list(" A, B;C\n\tD ,, "), ["A", "B", "C", "D"]);
}

#[test]
fn split_limits() {
    let u = urls();
    let none = UrlOptions::default();
    let ids: Vec<String> = (0..500)
        .map(|i| format!("F1DPEmoryo_bV0GzilxLXH31pg{i:06}AAAQUJDX1BJX09QU1xBSUM2ODEwNTkuUFY"))
        .collect();
    let split = u.ad_hoc_split(&ids, &none, 0).unwrap();
    assert!(split.len() > 1);
    assert!(split.iter().all(|s| s.len() <= DEFAULT_MAX_URL_LEN));
    // Greedy: each URL but the last could not take the next WebId.
    let fixed = "wss://pi.example.com/piwebapi/streamsets/channel?".len();
    let per_id = "&webId=".len() + ids[0].len();
    for s in &split[..split.len() - 1] {
        assert!(s.len() + per_id > DEFAULT_MAX_URL_LEN);
    }
    assert_eq!(
        split[0].len(),
        fixed - 1 + (DEFAULT_MAX_URL_LEN - fixed + 1) / per_id * per_id
    );
    // Exactly at the limit, and one byte under it.
    let one = u.ad_hoc(&["AAAA"], &none).unwrap();
    assert_eq!(
        u.ad_hoc_split(&["AAAA"], &none, one.len()).unwrap(),
        std::slice::from_ref(&one)
    );
    let m = err(u.ad_hoc_split(&["AAAA"], &none, one.len() - 1));
    assert!(m.contains("WebId #0 (4 bytes) does not fit"), "{m}");
    // A long WebId in the middle.
    let long = "L".repeat(5000);
    let m = err(u.ad_hoc_split(&["A", long.as_str(), "B"], &none, 0));
    assert!(m.contains("WebId #1 (5000 bytes)"), "{m}");
    // Options are in every URL and counted.
    let o = UrlOptions {
        include_initial_values: Some(true),
        heartbeat_rate: Some(3),
        ..UrlOptions::default()
    };
    let split = u.ad_hoc_split(&ids, &o, 2000).unwrap();
    assert!(split
        .iter()
        .all(|s| s.len() <= 2000 && s.ends_with("&includeInitialValues=true&heartbeatRate=3")));
}

proptest! {
    #[test]
    fn split_keeps_every_web_id_once_in_order(
        ids in proptest::collection::vec("[A-Za-z0-9_-]{1,60}", 1..200),
        limit in 150usize..5000,
        initial in any::<bool>(),
    ) {
        let u = urls();
        let o = UrlOptions { include_initial_values: Some(initial), ..UrlOptions::default() };
        let split = u.ad_hoc_split(&ids, &o, limit).unwrap();
        let mut seen = Vec::new();
        for s in &split {
            prop_assert!(s.len() <= limit);
            let parsed = url::Url::parse(s).unwrap();
            let mut n = 0;
            for (k, v) in parsed.query_pairs() {
                if k == "webId" {
                    seen.push(v.into_owned());
                    n += 1;
                } else {
                    prop_assert_eq!((k.as_ref(), v.as_ref()), ("includeInitialValues", if initial { "true" } else { "false" }));
                }
            }
            prop_assert!(n >= 1);
        }
        prop_assert_eq!(seen, ids);
    }

    #[test]
    fn any_text_parameter_survives_encoding(filter in any::<String>(), template in "\\PC*") {
        let o = UrlOptions { name_filter: Some(filter.clone()), template_name: Some(template.clone()), ..UrlOptions::default() };
        let built = urls().stream_set("E", &o).unwrap();
        let parsed = url::Url::parse(&built).unwrap();
        prop_assert_eq!(parsed.as_str(), built.as_str(), "the URL parser changes nothing");
        let get = |name: &str| parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        prop_assert_eq!(get("nameFilter"), (!filter.is_empty()).then_some(filter));
        prop_assert_eq!(get("templateName"), (!template.is_empty()).then_some(template));
    }
}

// ---------------------------------------------------------------------------------------------
// The C API.

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe { pwa_last_error(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn c_api() {
    let base = c(BASE);
    let mut buf = [0 as c_char; 256];
    let mut needed = 0usize;
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_stream(
            base.as_ptr(),
            c"W1".as_ptr(),
            ptr::null(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut needed,
        )
    };
    assert_eq!(st, PWA_OK);
    // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
    let got = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(got, "wss://pi.example.com/piwebapi/streams/W1/channel");
    assert_eq!(needed, got.len() + 1);
    // Too small: truncated, needed reported, message set.
    let mut small = [0 as c_char; 10];
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_stream(
            base.as_ptr(),
            c"W1".as_ptr(),
            ptr::null(),
            small.as_mut_ptr(),
            small.len(),
            &mut needed,
        )
    };
    assert_eq!((st, needed), (PWA_ERR_BUFFER_TOO_SMALL, got.len() + 1));
    assert!(last_error().contains("the URL needs"));
    // A zeroed options struct writes nothing; fields map to parameters.
    // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
    let mut o: pwa_url_options = unsafe { std::mem::zeroed() };
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_streamset(
            base.as_ptr(),
            c"E".as_ptr(),
            &o,
            buf.as_mut_ptr(),
            buf.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, PWA_OK);
    // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
    assert!(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .ends_with("/streamsets/E/channel"));
    let filter = c("Pump 1*");
    o.name_filter = filter.as_ptr();
    o.include_initial_values = 1;
    o.heartbeat_rate = 0; // left out
    o.web_id_type = PWA_WEBID_TYPE_LOCAL_ID_ONLY;
    o.show_hidden = 7;
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_streamset(
            base.as_ptr(),
            c"E".as_ptr(),
            &o,
            buf.as_mut_ptr(),
            buf.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, PWA_OK);
    assert_eq!(
        // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
        "wss://pi.example.com/piwebapi/streamsets/E/channel?includeInitialValues=true&webIdType=LocalIDOnly&nameFilter=Pump%201*&showHidden=true"
    );
    o.web_id_type = 6;
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_streamset(
            base.as_ptr(),
            c"E".as_ptr(),
            &o,
            buf.as_mut_ptr(),
            buf.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, PWA_ERR_INVALID_ARGUMENT);
    assert!(last_error().contains("web_id_type 6"));
    // Split: count and newline-joined URLs.
    let mut count = 0usize;
    let mut big = vec![0 as c_char; 8192];
    let ids = c("AAAA,BBBB CCCC\nDDDD");
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_adhoc_split(
            base.as_ptr(),
            ids.as_ptr(),
            ptr::null(),
            69,
            big.as_mut_ptr(),
            big.len(),
            &mut needed,
            &mut count,
        )
    };
    assert_eq!(st, PWA_OK, "{}", last_error());
    // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
    let text = unsafe { CStr::from_ptr(big.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), count);
    assert_eq!(
        lines,
        [
            "wss://pi.example.com/piwebapi/streamsets/channel?webId=AAAA",
            "wss://pi.example.com/piwebapi/streamsets/channel?webId=BBBB",
            "wss://pi.example.com/piwebapi/streamsets/channel?webId=CCCC",
            "wss://pi.example.com/piwebapi/streamsets/channel?webId=DDDD"
        ]
    );
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_adhoc_split(
            base.as_ptr(),
            ids.as_ptr(),
            ptr::null(),
            0,
            big.as_mut_ptr(),
            big.len(),
            &mut needed,
            &mut count,
        )
    };
    assert_eq!((st, count), (PWA_OK, 1));
    // NULLs.
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_adhoc(
            ptr::null(),
            ids.as_ptr(),
            ptr::null(),
            big.as_mut_ptr(),
            big.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, PWA_ERR_INVALID_ARGUMENT);
    assert!(last_error().contains("base is NULL"));
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    let st = unsafe {
        pwa_url_adhoc(
            base.as_ptr(),
            ids.as_ptr(),
            ptr::null(),
            ptr::null_mut(),
            5,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, PWA_ERR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------------------------
// A built URL is the simulator's own, and opens.

#[test]
fn built_urls_open_against_the_simulator() {
    let sim = common::sim(
        piwebasync_sim::SimConfig::default().interval(std::time::Duration::from_millis(10)),
    );
    let u = ChannelUrls::new(&sim.http_base_url()).unwrap();
    let id = sim.point_web_ids()[0].clone();
    let none = UrlOptions::default();
    assert_eq!(u.stream(&id, &none).unwrap(), sim.stream_url(&id));
    assert_eq!(
        u.ad_hoc(&sim.point_web_ids(), &none).unwrap(),
        sim.adhoc_url(sim.point_web_ids())
    );
    let element = sim.model().elements()[0].web_id().to_string();
    assert_eq!(
        u.stream_set(&element, &none).unwrap(),
        sim.streamset_url(&element)
    );
    let o = UrlOptions {
        include_initial_values: Some(true),
        heartbeat_rate: Some(2),
        ..UrlOptions::default()
    };
    for url in u.ad_hoc_split(&sim.point_web_ids(), &o, 200).unwrap() {
        let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
        let m = ch.poll_next(Some(common::SOON)).unwrap();
        assert!(m.content().value_count() >= 1, "{}", m.json());
    }
}
