//! The message parser: the fast reader (`src/model/fast.rs`) against serde (`parse.rs`) as the
//! oracle. Where the fast reader takes a text it must give exactly serde's model (so it never
//! accepts what serde rejects); `Content::parse` (fast first, serde where it gives up) must
//! always equal serde alone. Then the flat value index must agree with the streams.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piwebasync_rust::model::Content;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let serde = Content::parse_serde(text);
    if let Some(fast) = Content::parse_fast(text) {
        assert!(
            !serde.is_unparsable(),
            "the fast reader accepted what serde rejects ({:?}): {text:?}",
            serde.parse_error()
        );
        assert_eq!(fast, serde, "fast reader and serde differ on {text:?}");
    }
    let content = Content::parse(text);
    assert_eq!(
        content, serde,
        "Content::parse and serde differ on {text:?}"
    );

    // The flat list of values and the streams agree.
    let mut k = 0;
    for (i, stream) in content.streams().iter().enumerate() {
        assert_eq!(content.first_value(i), Some(k), "first value of stream {i}");
        for v in &stream.values {
            let r = content.value(k).expect("value in range");
            assert_eq!(r.stream_index, i);
            assert_eq!(r.value, v);
            k += 1;
        }
    }
    assert_eq!(content.value_count(), k);
    assert!(content.value(k).is_none());
    assert!(content.first_value(content.streams().len()).is_none());
    assert_eq!(content.values().count(), k);
    if content.is_unparsable() {
        assert!(content.streams().is_empty() && content.web_exception().is_none());
        assert!(!content.is_heartbeat());
    }
});
