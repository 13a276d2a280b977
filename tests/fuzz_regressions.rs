//! Inputs the fuzz targets of fuzz/ found, replayed in the normal test suite (stable, no
//! cargo-fuzz), each with what the code must do with it. See fuzz/README.md.

use piwebasync::fuzzing::replay_response;
use piwebasync::ErrorKind;

/// fuzz/artifacts/http_response/crash-fabf32a7…: a status of three digits below 100. httparse
/// reads "078" as 78; the reader keeps it (the upgrade then refuses it as not 101), whatever
/// the split into reads, and leaves the bytes after the head alone. (The target had assumed
/// 100..=999; it now checks <= 999.)
#[test]
fn http_status_below_100_is_read_as_is() {
    let input = b"HTTP/1.1 078 UnaWWW-Authenticate: BaebSocket-Accepu: s1pPsic realm=\"pi\"\xed\n\
                  COntent-LEngth: 4125 QK\r\n\r\nrest";
    for chunk in [1, 4, usize::MAX] {
        let r = replay_response(input, chunk, Some(48))
            .unwrap_or_else(|e| panic!("reads of {chunk}: {}", e.message()));
        assert_eq!(r.head.status, 78, "reads of {chunk}");
        assert_eq!(
            r.head.headers.len(),
            1,
            "reads of {chunk}: {:?}",
            r.head.headers
        );
        // Content-Length "4125 QK" is no length: the body is not skipped.
        assert_eq!(r.discarded, Some(false));
        assert_eq!(r.rest, b"rest");
    }
}

/// The entry point the http_response target uses behaves as the upgrade relies on: a body
/// with a Content-Length within the limit is skipped, what follows stays; a head cut short is
/// an error naming the closed connection; a malformed one a protocol error.
#[test]
fn http_replay_keeps_what_follows_the_head() {
    let input =
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 101 OK\r\n\r\n";
    for chunk in [1, 7, usize::MAX] {
        let r = replay_response(input, chunk, Some(16)).unwrap();
        assert_eq!((r.head.status, r.discarded), (401, Some(true)));
        assert_eq!(r.rest, b"HTTP/1.1 101 OK\r\n\r\n", "reads of {chunk}");
        let r = replay_response(input, chunk, Some(4)).unwrap();
        assert_eq!(
            r.discarded,
            Some(false),
            "a body over the limit is not skipped"
        );
        assert!(r.rest.starts_with(b"hello"));
    }
    let cut = replay_response(b"HTTP/1.1 101 Switching", 3, None)
        .err()
        .unwrap();
    assert_eq!(cut.kind(), ErrorKind::Connect, "{}", cut.message());
    let bad = replay_response(b"HTTP/1.1 101 OK\r\nBad Header\r\n\r\n", 3, None)
        .err()
        .unwrap();
    assert_eq!(bad.kind(), ErrorKind::Protocol, "{}", bad.message());
}
