//! The HTTP upgrade response reader (`src/wire/http.rs`): what the upgrade runs on the bytes a
//! server sends, replayed from memory through `piwebasync::fuzzing::replay_response`. It must
//! never panic; the head must not depend on how the bytes were split into reads; what follows
//! the head (and a discarded body) stays available, byte for byte; and the helpers the upgrade
//! uses on a head (header lookup, tokens, the redacted log form) must hold up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piwebasync_rust::fuzzing::{replay_response, Replayed};

/// `MAX_HEAD` of http.rs: below it, the split into reads cannot change the outcome.
const MAX_HEAD: usize = 64 * 1024;

fn summary(r: &Result<Replayed, piwebasync_rust::Error>) -> String {
    match r {
        Ok(r) => format!(
            "{} {:?} {:?} discarded={:?} rest={:?}",
            r.head.status, r.head.reason, r.head.headers, r.discarded, r.rest
        ),
        Err(e) => format!("{:?}: {}", e.kind(), e.message()),
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: the read size (1..=256); second: the body limit of discard_body.
    let [chunk, max, input @ ..] = data else {
        return;
    };
    let chunk = usize::from(*chunk) + 1;
    let max = usize::from(*max) * 16;
    let whole = replay_response(input, usize::MAX, Some(max));
    let split = replay_response(input, chunk, Some(max));
    if input.len() < MAX_HEAD {
        assert_eq!(
            summary(&whole),
            summary(&split),
            "reads of {chunk} bytes change the outcome"
        );
    }
    let Ok(r) = split else {
        return;
    };
    let head = &r.head;
    // Any three digits: httparse takes "000" to "999" (a 078 is refused later as not 101).
    assert!(head.status <= 999, "status {} accepted", head.status);
    assert!(head.headers.len() <= 64, "more headers than the limit");
    // The rest is the end of the input: nothing lost or invented.
    assert!(
        input.ends_with(&r.rest),
        "bytes after the head are not the input's last {} bytes",
        r.rest.len()
    );
    let consumed = input.len() - r.rest.len();
    let again = replay_response(input, chunk, None).expect("the same head reads twice");
    let head_len = input.len() - again.rest.len();
    match r.discarded {
        Some(true) => {
            let length: usize = std::str::from_utf8(head.header("content-length").unwrap())
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert!(length <= max);
            assert_eq!(
                consumed,
                head_len + length,
                "a discarded body of {length} bytes"
            );
            assert!(!head.header_has_token("connection", "close"));
            assert!(head.header("transfer-encoding").is_none());
        }
        Some(false) | None => assert_eq!(consumed, head_len, "a kept body is left buffered"),
    }
    // The head ends with an empty line.
    let raw = &input[..head_len];
    assert!(
        raw.ends_with(b"\n\n") || raw.ends_with(b"\n\r\n"),
        "head {raw:?}"
    );

    // The helpers the upgrade runs on a head.
    for (name, value) in &head.headers {
        let found = head.header(name).expect("a header finds itself");
        assert!(
            head.headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.as_slice() == found),
            "header({name}) gave a value of another header"
        );
        assert!(!head.header_values(name).is_empty());
        for token in String::from_utf8_lossy(value).split(',') {
            let token = token.trim();
            if !token.is_empty() {
                assert!(head.header_has_token(name, token), "{name}: {token}");
            }
        }
    }
    let shown = head.redacted();
    assert!(shown.starts_with(&format!("HTTP {} ", head.status)));
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        let secret = ["authenticat", "authoriz", "cookie"]
            .iter()
            .any(|s| lower.contains(s));
        if secret {
            assert!(
                shown.contains(&format!("\n{name}: ***")),
                "{name} shown in clear: {shown}"
            );
        } else {
            assert!(shown.contains(&format!("\n{name}: {}", String::from_utf8_lossy(value))));
        }
    }
});
