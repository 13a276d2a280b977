//! `pwa_message_from_json` and the typed accessors a C program reads a message with, called
//! through their `extern "C"` definitions with raw pointers as C would.
//!
//! How the C ABI gets here: capi/ builds only a cdylib and a staticlib (no rlib: its library
//! is named piwebasync like the Rust crate's), so nothing can depend on it. Its sources are
//! compiled into this target instead, unchanged, as the module `capi` (`#[path]` below), with
//! the same instrumentation and AddressSanitizer as the rest. So every line between the C
//! call and the Rust crate is the real one: the panic guard, the pointer and UTF-8 checks,
//! `Message::from_json`, the C string arena (`CView`) and `copy_out`. Not covered: the link
//! of libpiwebasync itself (export list, symbol versions, `ld -r` of the static archive) and
//! mimalloc, capi's release allocator (the targets build with debug assertions, so the system
//! allocator, which ASan watches, is used): those are what the C tests under valgrind cover.
#![no_main]

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../capi/src/lib.rs"]
mod capi;

use std::ffi::{c_char, CStr};
use std::ptr;

use capi::*;
use libfuzzer_sys::fuzz_target;
use piwebasync_rust::model::{Content, Value};

/// A string the message owns: NUL-terminated UTF-8, never NULL.
unsafe fn text<'a>(p: *const c_char, what: &str) -> &'a str {
    assert!(!p.is_null(), "{what} is NULL");
    CStr::from_ptr(p)
        .to_str()
        .unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"))
}

/// What the C side shows for a string of the model: NULs replaced (C strings cannot hold them).
fn shown(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

/// `pwa_message_copy_string` of (field, index) gives `expected`, whole with room for it and cut
/// at a UTF-8 boundary without.
unsafe fn check_copy(msg: *const pwa_message, field: pwa_field, index: usize, expected: &str) {
    let mut needed = 0usize;
    let st = pwa_message_copy_string(msg, field, index, ptr::null_mut(), 0, &mut needed);
    assert_eq!(st, PWA_ERR_BUFFER_TOO_SMALL, "size query of field {field}");
    assert_eq!(needed, expected.len() + 1, "size of field {field} #{index}");
    let mut buf = vec![0x55u8; needed];
    let st = pwa_message_copy_string(
        msg,
        field,
        index,
        buf.as_mut_ptr().cast(),
        needed,
        ptr::null_mut(),
    );
    assert_eq!(st, PWA_OK, "copy of field {field} #{index}");
    assert_eq!(&buf[..needed - 1], expected.as_bytes());
    assert_eq!(buf[needed - 1], 0);
    if needed > 1 {
        let cap = needed / 2;
        let mut small = vec![0x55u8; cap];
        let st = pwa_message_copy_string(
            msg,
            field,
            index,
            small.as_mut_ptr().cast(),
            cap,
            ptr::null_mut(),
        );
        assert_eq!(
            st, PWA_ERR_BUFFER_TOO_SMALL,
            "truncated copy of field {field}"
        );
        let got = CStr::from_bytes_until_nul(&small).expect("a truncated copy ends with a NUL");
        let got = got
            .to_str()
            .expect("a truncated copy is cut at a UTF-8 boundary");
        assert!(expected.starts_with(got));
    }
}

fuzz_target!(|data: &[u8]| {
    unsafe {
        let mut msg: *mut pwa_message = ptr::null_mut();
        let st = pwa_message_from_json(data.as_ptr().cast(), data.len(), &mut msg);
        let Ok(json) = std::str::from_utf8(data) else {
            assert_eq!(
                st, PWA_ERR_INVALID_ARGUMENT,
                "invalid UTF-8 must be refused"
            );
            assert!(msg.is_null(), "*out is NULL on failure");
            return;
        };
        assert_eq!(st, PWA_OK, "valid UTF-8 is always accepted");
        assert!(!msg.is_null());

        // The NUL-terminated form (len = SIZE_MAX) reads up to the first NUL.
        let mut nul = data.to_vec();
        nul.push(0);
        let mut msg2: *mut pwa_message = ptr::null_mut();
        assert_eq!(
            pwa_message_from_json(nul.as_ptr().cast(), usize::MAX, &mut msg2),
            PWA_OK
        );
        let mut len2 = 0usize;
        let json2 = pwa_message_json(msg2, &mut len2);
        let until_nul = json.split('\0').next().unwrap();
        assert_eq!(len2, until_nul.len());
        assert_eq!(CStr::from_ptr(json2).to_bytes(), until_nul.as_bytes());
        pwa_message_free(msg2);

        // The text comes back byte for byte.
        let mut len = 0usize;
        let p = pwa_message_json(msg, &mut len);
        assert_eq!(len, data.len());
        assert_eq!(
            std::slice::from_raw_parts(p.cast::<u8>(), len + 1)[..len],
            *data
        );
        assert_eq!(*p.add(len), 0);

        // The typed view agrees with the Rust model of the same text.
        let content = Content::parse(json);
        let mut info: pwa_message_info = std::mem::zeroed();
        assert_eq!(pwa_message_get_info(msg, &mut info), PWA_OK);
        assert_eq!(info.stream_count, content.streams().len());
        assert_eq!(info.value_count, content.value_count());
        assert_eq!(info.is_unparsable, content.is_unparsable() as i32);
        assert_eq!(info.is_heartbeat, content.is_heartbeat() as i32);
        assert_eq!(
            info.has_web_exception,
            content.web_exception().is_some() as i32
        );
        let (mut flag, mut count) = (-1i32, usize::MAX);
        assert_eq!(pwa_message_is_unparsable(msg, &mut flag), PWA_OK);
        assert_eq!(flag, content.is_unparsable() as i32);
        assert_eq!(pwa_message_is_heartbeat(msg, &mut flag), PWA_OK);
        assert_eq!(flag, content.is_heartbeat() as i32);
        assert_eq!(pwa_message_stream_count(msg, &mut count), PWA_OK);
        assert_eq!(count, content.streams().len());
        assert_eq!(pwa_message_value_count(msg, &mut count), PWA_OK);
        assert_eq!(count, content.value_count());
        let parse_error = text(info.parse_error, "parse_error");
        assert_eq!(parse_error, shown(content.parse_error().unwrap_or("")));
        check_copy(msg, PWA_FIELD_PARSE_ERROR, 0, parse_error);
        let wex = text(info.web_exception_errors, "web_exception_errors");
        check_copy(msg, PWA_FIELD_MESSAGE_WEB_EXCEPTION, 0, wex);

        for (i, s) in content.streams().iter().enumerate() {
            let mut si: pwa_stream_info = std::mem::zeroed();
            assert_eq!(pwa_message_stream(msg, i, &mut si), PWA_OK, "stream {i}");
            assert_eq!(text(si.web_id, "web_id"), shown(&s.web_id));
            assert_eq!(text(si.name, "name"), shown(&s.name));
            assert_eq!(text(si.path, "path"), shown(&s.path));
            assert_eq!(text(si.units, "units"), shown(&s.units));
            assert_eq!(si.first_value, content.first_value(i).unwrap());
            assert_eq!(si.value_count, s.values.len());
            assert_eq!(si.has_web_exception, s.web_exception.is_some() as i32);
            check_copy(msg, PWA_FIELD_STREAM_WEB_ID, i, &shown(&s.web_id));
            check_copy(msg, PWA_FIELD_STREAM_NAME, i, &shown(&s.name));
            check_copy(msg, PWA_FIELD_STREAM_PATH, i, &shown(&s.path));
            check_copy(msg, PWA_FIELD_STREAM_UNITS, i, &shown(&s.units));
            let w = text(si.web_exception_errors, "stream web_exception_errors");
            check_copy(msg, PWA_FIELD_STREAM_WEB_EXCEPTION, i, w);
        }
        let mut si: pwa_stream_info = std::mem::zeroed();
        assert_eq!(
            pwa_message_stream(msg, content.streams().len(), &mut si),
            PWA_ERR_INVALID_ARGUMENT,
            "a stream past the end"
        );

        for (k, r) in content.values().enumerate() {
            let mut v: pwa_value = std::mem::zeroed();
            assert_eq!(pwa_message_value(msg, k, &mut v), PWA_OK, "value {k}");
            assert_eq!(v.stream_index, r.stream_index);
            let kind = match &r.value.value {
                Value::Null => PWA_VALUE_NULL,
                Value::Double(_) => PWA_VALUE_DOUBLE,
                Value::Int(_) => PWA_VALUE_INT64,
                Value::String(_) => PWA_VALUE_STRING,
                Value::Bool(_) => PWA_VALUE_BOOL,
                Value::Digital(_) => PWA_VALUE_DIGITAL,
                Value::Other(_) => PWA_VALUE_OTHER,
            };
            assert_eq!(v.kind, kind, "kind of value {k}");
            if let Value::Int(i) = r.value.value {
                assert_eq!(v.integer, i);
            }
            if let Value::String(s) = &r.value.value {
                assert_eq!(text(v.text, "text"), shown(s));
            }
            assert_eq!(text(v.units, "units"), shown(r.units()));
            assert_eq!(v.good, r.value.good() as i32);
            assert_eq!(v.error_count as usize, r.value.errors.len());
            let t = text(v.text, "text");
            check_copy(msg, PWA_FIELD_VALUE_TEXT, k, t);
            check_copy(msg, PWA_FIELD_VALUE_UNITS, k, &shown(r.units()));
            check_copy(
                msg,
                PWA_FIELD_VALUE_TIMESTAMP,
                k,
                text(v.timestamp_text, "timestamp_text"),
            );
            check_copy(msg, PWA_FIELD_VALUE_ERRORS, k, text(v.errors, "errors"));
            check_copy(
                msg,
                PWA_FIELD_VALUE_WEB_EXCEPTION,
                k,
                text(v.web_exception_errors, "value web_exception_errors"),
            );
        }
        let mut v: pwa_value = std::mem::zeroed();
        assert_eq!(
            pwa_message_value(msg, content.value_count(), &mut v),
            PWA_ERR_INVALID_ARGUMENT,
            "a value past the end"
        );
        assert_eq!(
            pwa_message_copy_string(msg, 99, 0, ptr::null_mut(), 0, ptr::null_mut()),
            PWA_ERR_INVALID_ARGUMENT,
            "an unknown field"
        );
        pwa_message_free(msg);
    }
});
