//! The HTTP body reader of the REST GET (`src/wire/http.rs`: Content-Length, chunked, until
//! close), replayed from memory through `piwebasync::fuzzing::replay_body`. It must never panic
//! or hang; the outcome must not depend on how the bytes were split into reads; a body is never
//! larger than the limit; a body by Content-Length is exactly the bytes after the head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piwebasync_rust::fuzzing::replay_body;

fuzz_target!(|data: &[u8]| {
    // First byte: the read size (1..=256); second: the body limit.
    let [chunk, max, input @ ..] = data else {
        return;
    };
    let chunk = usize::from(*chunk) + 1;
    let max = usize::from(*max) * 16;
    let show = |r: &Result<_, piwebasync_rust::Error>| match r {
        Ok((h, b, rest)) => {
            let h: &piwebasync_rust::fuzzing::ResponseHead = h;
            format!("{} {:?} {:?} {:?}", h.status, h.headers, b, rest)
        }
        Err(e) => format!("{:?}: {}", e.kind(), e.message()),
    };
    let whole = replay_body(input, usize::MAX, max);
    let split = replay_body(input, chunk, max);
    if input.len() < 64 * 1024 {
        assert_eq!(
            show(&whole),
            show(&split),
            "reads of {chunk} bytes change the outcome"
        );
    }
    let Ok((head, body, rest)) = split else {
        return;
    };
    assert!(
        body.len() <= max,
        "a body of {} bytes over the limit {max}",
        body.len()
    );
    assert!(
        input.ends_with(&rest),
        "bytes after the body are not the input's end"
    );
    let chunked = head.header("transfer-encoding").is_some_and(|v| {
        String::from_utf8_lossy(v)
            .to_ascii_lowercase()
            .contains("chunked")
    });
    if !chunked && head.header("content-length").is_some() {
        let head_len = input.len() - rest.len() - body.len();
        assert_eq!(&input[head_len..head_len + body.len()], &body[..]);
    }
});
